# What R survival does on degenerate inputs (tests/test_survival_edge.py).
#
# Run from the repository root (/work/main):
#   Rscript tests/reference/survival_edge_reference.R > tests/reference/survival_edge_reference.txt
#
# Prints "name value" lines (sprintf("%.15g")) under "[section]" headers; R's errors and
# warnings are printed as "# error: ..." / "# warning: ..." comment lines. Where R answers,
# evalkit gives the same number (with a caution); where R errors, warns that an estimate may
# be infinite, or prints a number that cannot be right (a robust SE of 1e-11 from one
# cluster), evalkit raises EvalDataError with the reason.

suppressPackageStartupMessages(library(survival))
fmt <- function(x) sprintf("%.15g", x)
pr <- function(name, x) cat(name, " ", fmt(as.numeric(x)), "\n", sep = "")
section <- function(s) cat("\n[", s, "]\n", sep = "")
try_r <- function(expr) withCallingHandlers(
  tryCatch(expr, error = function(e) cat("# error: ", conditionMessage(e), "\n", sep = "")),
  warning = function(w) {
    cat("# warning: ", conditionMessage(w), "\n", sep = "")
    invokeRestart("muffleWarning")
  })

section("logrank_no_events")
# every row censored: survdiff answers chi-squared 0 on -1 df, p NA
d <- data.frame(t = 1:10, e = 0, g = rep(0:1, 5))
try_r({s <- survdiff(Surv(t, e) ~ g, d); pr("chisq", s$chisq); pr("p", s$pvalue)})

section("logrank_one_group_without_events")
d <- data.frame(t = 1:10, e = rep(c(1, 0), 5), g = rep(0:1, 5))
s <- survdiff(Surv(t, e) ~ g, d)
pr("chisq", s$chisq); pr("p", s$pvalue); pr("exp_g0", s$exp[1]); pr("exp_g1", s$exp[2])

section("coxzph_all_times_tied")
d <- data.frame(t = rep(5, 20), e = rep(c(1, 0), 10), x = (1:20) %% 3)
f <- coxph(Surv(t, e) ~ x, d)
pr("coef", coef(f))
try_r(cox.zph(f))

section("cox_one_cluster")
d <- data.frame(t = 1:12, e = c(1, 1, 0, 1, 1, 0, 1, 1, 1, 0, 1, 1),
                x = c(0, 1, 0, 1, 1, 0, 0, 1, 0, 1, 1, 0), cl = 1)
cf <- summary(coxph(Surv(t, e) ~ x + cluster(cl), d))$coefficients
pr("coef", cf[1, "coef"]); pr("se", cf[1, "se(coef)"]); pr("robust_se", cf[1, "robust se"])
pr("p", cf[1, "Pr(>|z|)"])
section("cox_two_clusters")
d$cl <- rep(0:1, 6)
cf <- summary(coxph(Surv(t, e) ~ x + cluster(cl), d))$coefficients
pr("coef", cf[1, "coef"]); pr("se", cf[1, "se(coef)"]); pr("robust_se", cf[1, "robust se"])

section("cox_group_all_censored")
d <- data.frame(t = 1:12, e = rep(c(1, 0), 6), x = rep(0:1, 6))
try_r({f <- coxph(Surv(t, e) ~ x, d); pr("coef", coef(f)); pr("se", sqrt(vcov(f)))})

section("cox_covariate_constant_within_events")
d <- data.frame(t = 1:8, e = c(1, 1, 1, 0, 0, 0, 0, 0), x = c(1, 1, 1, 0, 0, 1, 0, 0))
try_r({f <- coxph(Surv(t, e) ~ x, d); pr("coef", coef(f))})

section("cox_covariate_without_information")
# x varies only among people censored before the first event: no information, coef NA
d <- data.frame(t = 1:6, e = c(0, 0, 1, 1, 0, 1), x = c(1, 2, 0, 0, 0, 0))
try_r({f <- coxph(Surv(t, e) ~ x, d); pr("coef", coef(f))})

section("cox_tiny")
try_r(coxph(Surv(t, e) ~ x, data.frame(t = 1, e = 1, x = 1)))
try_r({f <- coxph(Surv(t, e) ~ x, data.frame(t = c(1, 2), e = c(1, 1), x = c(0, 1)))
       pr("n2_coef", coef(f))})
try_r({f <- coxph(Surv(t, e) ~ x, data.frame(t = 1:5, e = 0, x = c(0, 1, 0, 1, 1)))
       pr("all_censored_coef", coef(f))})

section("km_all_censored")
s <- summary(survfit(Surv(t, e) ~ 1, data.frame(t = 1:3, e = 0)), censored = TRUE)
pr("surv_last", tail(s$surv, 1)); pr("std_err_last", tail(s$std.err, 1))
section("km_single_event")
s <- summary(survfit(Surv(t, e) ~ 1, data.frame(t = 3, e = 1)))
pr("surv", s$surv); pr("std_err", s$std.err)

section("rmst_group_all_censored")
d <- data.frame(t = c(1:4, 1:4), e = c(0, 0, 0, 0, 1, 0, 1, 0), g = rep(0:1, each = 4))
tab <- summary(survfit(Surv(t, e) ~ g, d), rmean = 3)$table
pr("rmean_g0", tab["g=0", "rmean"]); pr("se_g0", tab["g=0", "se(rmean)"])
pr("rmean_g1", tab["g=1", "rmean"]); pr("se_g1", tab["g=1", "se(rmean)"])
