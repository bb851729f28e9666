# Reference values for the survival-analysis tests (Kaplan-Meier, log-rank,
# Cox PH, cox.zph, RMST, competing-risks cumulative incidence).
#
# Run from the repository root (/work/main):
#   Rscript tests/reference/survival_reference.R 2>/dev/null > tests/reference/survival_reference.txt
#
# Prints "name value" lines (values via sprintf("%.12g")) under "[section]"
# headers to stdout, and writes these CSV files next to this script (15
# significant digits):
#   km_rossi_R.csv, km_rossi_loglog_R.csv, km_rossi_plain_R.csv,
#   km_ties_x1_R.csv, cuminc_ties_R.csv
#
# Packages: survival (Debian r-cran-survival), cmprsk (Debian r-cran-cmprsk).
# survRM2 is NOT installed (not on CRAN access here, no Debian package), so
# its RMST variance formula is re-implemented in base R below (section
# [rmst_ties]).

suppressPackageStartupMessages({
  library(survival)
  library(cmprsk)
})

ref_dir <- "tests/reference"
if (!file.exists(file.path(ref_dir, "rossi.csv"))) ref_dir <- "."  # also allow running from inside tests/reference

# ---------------------------------------------------------------- helpers
fmt <- function(x) sprintf("%.12g", x)           # 12 significant digits, "NA" for NA
pr <- function(name, x) cat(name, " ", fmt(as.numeric(x)), "\n", sep = "")
# print a named vector as one line per element: prefix_<name>
prv <- function(prefix, x, nms = names(x)) {
  for (i in seq_along(x)) pr(paste0(prefix, "_", nms[i]), x[i])
}
section <- function(s) cat("\n[", s, "]\n", sep = "")
# write a data frame with numeric columns at 15 significant digits
write_csv15 <- function(df, file) {
  out <- df
  for (j in seq_along(out)) {
    if (is.numeric(out[[j]])) out[[j]] <- sprintf("%.15g", out[[j]])
  }
  write.csv(out, file.path(ref_dir, file), row.names = FALSE, quote = FALSE)
}

# ---------------------------------------------------------------- data
rossi <- read.csv(file.path(ref_dir, "rossi.csv"))        # 432 rows
ties  <- read.csv(file.path(ref_dir, "surv_ties.csv"))    # 300 rows

# ---------------------------------------------------------------- versions
section("versions")
cat("R_version ", R.version$major, ".", R.version$minor, "\n", sep = "")
cat("R_version_string ", gsub(" ", "_", R.version.string), "\n", sep = "")
cat("survival ", as.character(packageVersion("survival")), "\n", sep = "")
cat("cmprsk ", as.character(packageVersion("cmprsk")), "\n", sep = "")
cat("survRM2 not_installed_formula_in_base_R\n")

# ================================================================ 1-2. KM rossi
# Full KM table (every distinct time, event or censoring) as a data frame.
# std_err = summary(fit, censored = TRUE)$std.err, i.e. the SE of S(t)
# (Greenwood), not the SE of the cumulative hazard stored in fit$std.err.
km_table <- function(fit) {
  s <- summary(fit, censored = TRUE)                      # all rows incl. censor-only times
  df <- data.frame(time = s$time, n_risk = s$n.risk, n_event = s$n.event,
                   n_censor = s$n.censor, surv = s$surv, std_err = s$std.err,
                   lower = s$lower, upper = s$upper)
  if (!is.null(s$strata)) {
    grp <- sub("^.*=", "", as.character(s$strata))       # "x1=0" -> "0"
    df <- cbind(group = grp, df)
  }
  df
}
# median and its CI from summary(fit)$table (NA if not reached)
km_median <- function(fit, prefix = "") {
  tab <- summary(fit)$table
  if (is.null(dim(tab))) tab <- matrix(tab, nrow = 1, dimnames = list("all", names(tab)))
  for (i in seq_len(nrow(tab))) {
    p <- if (nrow(tab) == 1) prefix else paste0(prefix, sub("^.*=", "group", rownames(tab)[i]), "_")
    pr(paste0(p, "median"), tab[i, "median"])
    pr(paste0(p, "median_lower"), tab[i, "0.95LCL"])
    pr(paste0(p, "median_upper"), tab[i, "0.95UCL"])
  }
}

for (ct in c("log", "log-log", "plain")) {
  # KM for Rossi recidivism data, 95% pointwise CI of the given type
  fit <- survfit(Surv(week, arrest) ~ 1, data = rossi, conf.type = ct)
  sec <- switch(ct, "log" = "km_rossi", "log-log" = "km_rossi_loglog", "plain" = "km_rossi_plain")
  csv <- switch(ct, "log" = "km_rossi_R.csv", "log-log" = "km_rossi_loglog_R.csv",
                "plain" = "km_rossi_plain_R.csv")
  tab <- km_table(fit)
  write_csv15(tab, csv)                                   # full table -> CSV
  section(sec)
  cat("conf_type ", ct, "\n", sep = "")
  cat("table_file ", csv, "\n", sep = "")
  pr("n_rows", nrow(tab))
  pr("n", fit$n)
  pr("n_events", sum(fit$n.event))
  km_median(fit)                                          # median not reached -> NA
  pr("surv_last", tail(fit$surv, 1))                      # S at week 52
  pr("std_err_last", tail(tab$std_err, 1))
  pr("lower_last", tail(tab$lower, 1))
  pr("upper_last", tail(tab$upper, 1))
}

# ================================================================ 3. KM ties by x1
section("km_ties_by_x1")
# KM by x1 on the tied-times data (default conf.type = "log")
fit_x1 <- survfit(Surv(time, status) ~ x1, data = ties)
tab <- km_table(fit_x1)
write_csv15(tab, "km_ties_x1_R.csv")
cat("table_file km_ties_x1_R.csv\n")
pr("n_rows", nrow(tab))
km_median(fit_x1)                                         # median + 95% CI per group
# survival at fixed times (surv, lower, upper, n_risk) per group
st <- summary(fit_x1, times = c(30, 60, 90))
g <- sub("^.*=", "", as.character(st$strata))
for (i in seq_along(st$time)) {
  p <- paste0("group", g[i], "_t", st$time[i], "_")
  pr(paste0(p, "surv"), st$surv[i])
  pr(paste0(p, "lower"), st$lower[i])
  pr(paste0(p, "upper"), st$upper[i])
  pr(paste0(p, "std_err"), st$std.err[i])
  pr(paste0(p, "n_risk"), st$n.risk[i])
}
# restricted mean to 120 (print(fit, rmean = 120)); survfit's own SE
rm_tab <- summary(fit_x1, rmean = 120)$table
for (i in seq_len(nrow(rm_tab))) {
  p <- paste0(sub("^.*=", "group", rownames(rm_tab)[i]), "_")
  pr(paste0(p, "rmean120"), rm_tab[i, "rmean"])
  pr(paste0(p, "se_rmean120"), rm_tab[i, "se(rmean)"])
}

section("km_flat_median")
# Constructed case: S = 0.75, 0.5, 0.25, 0 on (1,2,3,4); S(t) = 0.5 exactly on
# [2, 3), so R takes the midpoint of the flat segment as the median.
flat <- data.frame(time = c(1, 2, 3, 4), status = c(1, 1, 1, 1))
fit_flat <- survfit(Surv(time, status) ~ 1, data = flat)  # conf.type = "log"
km_median(fit_flat)
q <- quantile(fit_flat, probs = c(0.25, 0.5, 0.75))       # same via quantile()
for (k in seq_along(q$quantile)) {
  p <- paste0("q", c(25, 50, 75)[k], "_")
  pr(paste0(p, "est"), q$quantile[k])
  pr(paste0(p, "lower"), q$lower[k])
  pr(paste0(p, "upper"), q$upper[k])
}
tf <- km_table(fit_flat)
for (i in seq_len(nrow(tf))) {
  p <- paste0("t", tf$time[i], "_")
  pr(paste0(p, "surv"), tf$surv[i]); pr(paste0(p, "std_err"), tf$std_err[i])
  pr(paste0(p, "lower"), tf$lower[i]); pr(paste0(p, "upper"), tf$upper[i])
}

# ================================================================ 4. log-rank rossi
section("logrank_rossi")
# two-group log-rank test by financial aid (published chisq 3.837570)
sd <- survdiff(Surv(week, arrest) ~ fin, data = rossi)
pr("chisq", sd$chisq)
pr("df", length(sd$n) - 1)
pr("p", sd$pvalue)
prv("obs", sd$obs, paste0("fin", 0:1))
prv("exp", sd$exp, paste0("fin", 0:1))
pr("var_11", sd$var[1, 1]); pr("var_12", sd$var[1, 2])
pr("var_21", sd$var[2, 1]); pr("var_22", sd$var[2, 2])

# ================================================================ 5. log-rank ties
section("logrank_ties")
# 4-group log-rank by x3 (0..3)
sd <- survdiff(Surv(time, status) ~ x3, data = ties)
pr("chisq", sd$chisq); pr("df", length(sd$n) - 1); pr("p", sd$pvalue)
prv("obs", sd$obs, paste0("x3_", 0:3))
prv("exp", sd$exp, paste0("x3_", 0:3))
# Peto-Peto / Harrington-Fleming rho = 1 (weights S(t-) from the pooled KM)
sd1 <- survdiff(Surv(time, status) ~ x3, data = ties, rho = 1)
pr("chisq_rho1", sd1$chisq); pr("df_rho1", length(sd1$n) - 1); pr("p_rho1", sd1$pvalue)
prv("obs_rho1", sd1$obs, paste0("x3_", 0:3))
prv("exp_rho1", sd1$exp, paste0("x3_", 0:3))
# stratified log-rank: x1 within stratum 1/2 (obs/exp are group x stratum matrices)
sds <- survdiff(Surv(time, status) ~ x1 + strata(stratum), data = ties)
pr("chisq_strata", sds$chisq); pr("df_strata", length(sds$n) - 1); pr("p_strata", sds$pvalue)
prv("obs_strata", rowSums(sds$obs), paste0("x1_", 0:1))            # summed over strata
prv("exp_strata", rowSums(sds$exp), paste0("x1_", 0:1))
for (gi in 1:2) for (si in 1:2) {
  pr(sprintf("obs_strata_x1_%d_stratum%d", gi - 1, si), sds$obs[gi, si])
  pr(sprintf("exp_strata_x1_%d_stratum%d", gi - 1, si), sds$exp[gi, si])
}
pr("var_strata_11", sds$var[1, 1]); pr("var_strata_12", sds$var[1, 2])

# ================================================================ 6-7. Cox
cox_print <- function(fit, terms = names(coef(fit)), full = TRUE) {
  s <- summary(fit)
  cf <- s$coefficients
  robust <- "robust se" %in% colnames(cf)
  for (tm in terms) {
    pr(paste0(tm, "_coef"), cf[tm, "coef"])
    pr(paste0(tm, "_se"), cf[tm, "se(coef)"])                       # model-based (naive) SE
    if (robust) pr(paste0(tm, "_robust_se"), cf[tm, "robust se"])
    pr(paste0(tm, "_z"), cf[tm, "z"])                               # uses robust SE if robust
    pr(paste0(tm, "_p"), cf[tm, "Pr(>|z|)"])
  }
  pr("loglik_null", fit$loglik[1])
  pr("loglik", fit$loglik[2])
  if (!full) return(invisible())
  pr("lr_stat", s$logtest["test"]); pr("lr_df", s$logtest["df"]); pr("lr_p", s$logtest["pvalue"])
  # summary()$waldtest rounds the statistic to 2 decimals; use the unrounded fit$wald.test
  # (its p-value in summary() is already computed from the unrounded value)
  pr("wald_stat", fit$wald.test); pr("wald_df", s$waldtest["df"])
  pr("wald_p", pchisq(as.vector(fit$wald.test), s$waldtest["df"], lower.tail = FALSE))
  pr("score_stat", s$sctest["test"]); pr("score_df", s$sctest["df"]); pr("score_p", s$sctest["pvalue"])
  if (robust && !is.null(s$robscore)) {
    pr("robust_score_stat", s$robscore["test"]); pr("robust_score_df", s$robscore["df"])
    pr("robust_score_p", s$robscore["pvalue"])
  }
  cc <- fit$concordance
  pr("concordance", cc["concordance"]); pr("concordance_se", cc["std"])
  pr("concordant", cc["concordant"]); pr("discordant", cc["discordant"])
  pr("tied_x", cc["tied.x"]); pr("tied_y", cc["tied.y"]); pr("tied_xy", cc["tied.xy"])
  pr("iter", fit$iter)
  pr("n", fit$n); pr("nevent", fit$nevent)
}

rossi_form <- Surv(week, arrest) ~ fin + age + race + wexp + mar + paro + prio
section("cox_rossi_efron")
# Cox PH, Efron ties (R default)
cox_re <- coxph(rossi_form, data = rossi, ties = "efron")
cox_print(cox_re)
section("cox_rossi_efron_robust")
# same with robust (Lin-Wei sandwich) variance; z/p/Wald use the robust SE;
# robust score test = fit$rscore
cox_rer <- coxph(rossi_form, data = rossi, ties = "efron", robust = TRUE)
cox_print(cox_rer)
pr("rscore", cox_rer$rscore)
section("cox_rossi_breslow")
# Cox PH, Breslow ties
cox_rb <- coxph(rossi_form, data = rossi, ties = "breslow")
cox_print(cox_rb)

ties_form <- Surv(time, status) ~ x1 + x2 + x3
section("cox_ties_efron")
cox_te <- coxph(ties_form, data = ties, ties = "efron")   # Efron, many tied times
cox_print(cox_te)
section("cox_ties_breslow")
cox_tb <- coxph(ties_form, data = ties, ties = "breslow") # Breslow
cox_print(cox_tb)
section("cox_ties_efron_cluster")
# cluster(site): grouped sandwich variance over 15 sites (robust automatic)
cox_tc <- coxph(Surv(time, status) ~ x1 + x2 + x3 + cluster(site), data = ties, ties = "efron")
cox_print(cox_tc)
pr("rscore", cox_tc$rscore)
section("cox_ties_efron_strata")
# stratified Cox: separate baseline hazard per stratum (1/2)
cox_ts <- coxph(Surv(time, status) ~ x1 + x2 + x3 + strata(stratum), data = ties, ties = "efron")
cox_print(cox_ts)
section("cox_ties_efron_weights")
# case weights w; robust = FALSE forces the model-based variance only.
# NOTE: with non-integer weights and robust unspecified, survival 3.x turns the
# robust variance on by default (summary shows both columns).
cox_tw <- coxph(ties_form, data = ties, ties = "efron", weights = w, robust = FALSE)
cox_print(cox_tw)
section("cox_ties_efron_weights_robust")
# case weights w with robust = TRUE (identical to the default for these weights):
# _se = sqrt(diag(fit$naive.var)), _robust_se = sqrt(diag(fit$var))
cox_twr <- coxph(ties_form, data = ties, ties = "efron", weights = w, robust = TRUE)
cox_print(cox_twr)
pr("rscore", cox_twr$rscore)
cox_twd <- coxph(ties_form, data = ties, ties = "efron", weights = w)   # robust unspecified
pr("default_is_robust", as.numeric(!is.null(cox_twd$naive.var)))

# ================================================================ 8. cox.zph
for (tr in c("km", "rank", "identity")) {
  section(paste0("coxzph_rossi_", tr))
  # scaled-Schoenfeld score test (survival >= 3.0 definition), efron rossi fit
  z <- cox.zph(cox_re, transform = tr)
  cat("transform ", tr, "\n", sep = "")
  zt <- z$table
  for (rn in rownames(zt)) {
    pr(paste0(rn, "_chisq"), zt[rn, "chisq"])
    pr(paste0(rn, "_df"), zt[rn, "df"])
    pr(paste0(rn, "_p"), zt[rn, "p"])
  }
}

# ================================================================ 9. RMST
section("rmst_ties")
tau <- 120
# (a) survfit's rmean and se(rmean), rmean = 120
rm_tab <- summary(fit_x1, rmean = tau)$table
r0 <- rm_tab["x1=0", "rmean"]; se0 <- rm_tab["x1=0", "se(rmean)"]
r1 <- rm_tab["x1=1", "rmean"]; se1 <- rm_tab["x1=1", "se(rmean)"]

# (b) survRM2::rmst1 variance, re-implemented in base R (survRM2 not installed):
#   rmst = integral_0^tau S(t) dt (step function)
#   var  = sum_{t_i <= tau, events} A_i^2 * d_i / (n_i (n_i - d_i)),  A_i = int_{t_i}^{tau} S(t) dt
#   (terms with n_i == d_i are set to 0, as survRM2 does)
rmst_rm2 <- function(time, status, tau) {
  ft <- survfit(Surv(time, status) ~ 1)
  idx <- ft$time <= tau
  wk.time <- sort(c(ft$time[idx], tau))
  wk.surv <- ft$surv[idx]
  wk.n.risk <- ft$n.risk[idx]
  wk.n.event <- ft$n.event[idx]
  time.diff <- diff(c(0, wk.time))
  areas <- time.diff * c(1, wk.surv)
  rmst <- sum(areas)
  wk.var <- ifelse((wk.n.risk - wk.n.event) == 0, 0,
                   wk.n.event / (wk.n.risk * (wk.n.risk - wk.n.event)))
  wk.var <- c(wk.var, 0)
  rmst.var <- sum(cumsum(rev(areas[-1]))^2 * rev(wk.var)[-1])
  c(rmst = rmst, se = sqrt(rmst.var))
}
b0 <- with(subset(ties, x1 == 0), rmst_rm2(time, status, tau))
b1 <- with(subset(ties, x1 == 1), rmst_rm2(time, status, tau))

contrast <- function(prefix, r0, se0, r1, se1) {
  zq <- qnorm(0.975)
  d <- r1 - r0; sed <- sqrt(se1^2 + se0^2)
  pr(paste0(prefix, "diff"), d); pr(paste0(prefix, "diff_se"), sed)
  pr(paste0(prefix, "diff_lower"), d - zq * sed); pr(paste0(prefix, "diff_upper"), d + zq * sed)
  pr(paste0(prefix, "diff_p"), 2 * pnorm(-abs(d / sed)))
  rr <- r1 / r0; sel <- sqrt(se1^2 / r1^2 + se0^2 / r0^2)
  pr(paste0(prefix, "ratio"), rr); pr(paste0(prefix, "log_ratio_se"), sel)
  pr(paste0(prefix, "ratio_lower"), exp(log(rr) - zq * sel))
  pr(paste0(prefix, "ratio_upper"), exp(log(rr) + zq * sel))
  pr(paste0(prefix, "ratio_p"), 2 * pnorm(-abs(log(rr) / sel)))
}
pr("tau", tau)
cat("# survfit print(fit, rmean = 120) values and SEs\n")
pr("survfit_rmst_group0", r0); pr("survfit_se_group0", se0)
pr("survfit_rmst_group1", r1); pr("survfit_se_group1", se1)
contrast("survfit_", r0, se0, r1, se1)
cat("# survRM2 rmst2 formula, computed in base R\n")
pr("rm2_rmst_group0", b0["rmst"]); pr("rm2_se_group0", b0["se"])
pr("rm2_rmst_group1", b1["rmst"]); pr("rm2_se_group1", b1["se"])
contrast("rm2_", b0["rmst"], b0["se"], b1["rmst"], b1["se"])
pr("rmst_absdiff_max", max(abs(c(r0 - b0["rmst"], r1 - b1["rmst"]))))
pr("se_absdiff_max", max(abs(c(se0 - b0["se"], se1 - b1["se"]))))
pr("se_ratio_survfit_over_rm2_group0", se0 / b0["se"])
pr("se_ratio_survfit_over_rm2_group1", se1 / b1["se"])

# ================================================================ 10. cuminc
section("cuminc_ties")
# Aalen-Johansen CIF per group (x1) and cause, Gray's test per cause
ci <- cuminc(ftime = ties$time, fstatus = ties$cause, group = ties$x1, cencode = 0)
tp <- timepoints(ci, c(30, 60, 90, 120))
for (rn in rownames(tp$est)) {                             # rn = "group cause"
  gc <- strsplit(rn, " ")[[1]]
  for (tt in colnames(tp$est)) {
    p <- paste0("group", gc[1], "_cause", gc[2], "_t", tt, "_")
    pr(paste0(p, "est"), tp$est[rn, tt])
    pr(paste0(p, "var"), tp$var[rn, tt])
  }
}
tests <- ci$Tests
for (rn in rownames(tests)) {
  pr(paste0("gray_cause", rn, "_stat"), tests[rn, "stat"])
  pr(paste0("gray_cause", rn, "_p"), tests[rn, "pv"])
  pr(paste0("gray_cause", rn, "_df"), tests[rn, "df"])
}
# full curve points as returned by cuminc (step-plot form: each jump time
# appears twice, first with the value before the jump, then after)
curves <- do.call(rbind, lapply(setdiff(names(ci), "Tests"), function(nm) {
  gc <- strsplit(nm, " ")[[1]]
  data.frame(group = gc[1], cause = gc[2], time = ci[[nm]]$time,
             est = ci[[nm]]$est, var = ci[[nm]]$var)
}))
write_csv15(curves, "cuminc_ties_R.csv")
cat("table_file cuminc_ties_R.csv\n")
pr("n_rows", nrow(curves))
