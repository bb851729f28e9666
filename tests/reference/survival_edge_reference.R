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

section("cox_no_information")
# x = 0 only for a youth censored before the first event: every risk set holds x = 1 alone,
# so x carries no information and coxph reports NA (evalkit refuses, naming x)
f <- coxph(Surv(t, e) ~ x, data.frame(t = 1:7, e = c(0, 0, 1, 1, 1, 1, 1), x = c(0, rep(1, 6))))
pr("coef_is_na", is.na(coef(f)))

section("zph_no_information")
# x varies only in the risk set at time 0, where the km transform is 0: its change over time
# carries no information and cox.zph stops
d <- data.frame(t = c(0, 0, 4, 5, 2), e = 1, x = c(1, 0, 1, 1, 1),
                z = c(1.27, -0.45, 0.46, 1.64, 0.16))
try_r(cox.zph(coxph(Surv(t, e) ~ x + z, d)))

section("cox_robust_wald")
# with robust = TRUE, coxph's Wald test uses the robust variance
d <- data.frame(t = c(2, 3, 3, 5, 6, 7, 8, 9, 10, 12), e = c(1, 1, 0, 1, 1, 0, 1, 1, 1, 0),
                x = c(1, 0, 1, 1, 0, 0, 1, 0, 0, 1), z = c(0.3, -1.1, 0.8, 1.9, -0.4, 0.2, -2.0,
                                                          0.7, 1.2, -0.6),
                site = c(1, 1, 2, 2, 3, 3, 4, 4, 5, 5))
f <- coxph(Surv(t, e) ~ x, d, robust = TRUE)
pr("wald_x", f$wald.test); pr("robust_se_x", sqrt(diag(f$var)))
f <- coxph(Surv(t, e) ~ x + z, d, robust = TRUE)
pr("wald_xz", f$wald.test)
f <- coxph(Surv(t, e) ~ x + z, d, cluster = site)
pr("wald_xz_site", f$wald.test)

section("cox_concordance_zero_coef")
# the score at 0 is 0 within the strata: the coefficient is 0 and every pair is tied
d <- data.frame(t = c(0, 0, 0, 5, 3), e = 1, x = c(0, 0, 0, 0, 1), s = c(1, 0, 1, 1, 1))
f <- coxph(Surv(t, e) ~ x + strata(s), d, ties = "breslow")
pr("coef", coef(f)); pr("concordance", f$concordance["concordance"])

section("km_median_plateau_to_end")
# the curve reaches 0.5 at t = 2 and stays there to the end of follow-up: summary(fit)$table
# (and print) say 2, quantile(fit) says 4; evalkit follows the table
f <- survfit(Surv(t, e) ~ 1, data.frame(t = c(1, 2, 4, 6), e = c(1, 1, 0, 0)))
pr("table_median", summary(f)$table["median"]); pr("quantile_median", quantile(f, 0.5)$quantile)
