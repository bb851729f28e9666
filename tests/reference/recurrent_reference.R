# Reference values for evalkit.methods.recurrent and kaplan_meier(..., start=).
# Synthetic data (made here, seed fixed): youth with staggered program entry (delayed entry,
# left truncation) and repeated runaway episodes, two groups.
#
# Run from the repository root:
#   Rscript tests/reference/recurrent_reference.R
# Writes tests/reference/recurrent_episodes.csv (one row per episode, the input of
# split_episodes), recurrent_intervals_R.csv ((start, stop] rows built here),
# recurrent_km_entry_R.csv (survfit(Surv(entry, exit, event) ~ group), each conf.type),
# recurrent_mcf_R.csv (survfit(Surv(start, stop, event) ~ group, id = id, ctype = 1)).
suppressPackageStartupMessages(library(survival))
options(digits = 17)
set.seed(20240516)
out <- "tests/reference"
# every number to 17 significant digits
wcsv <- function(df, file) {
  df[] <- lapply(df, function(x) if (is.numeric(x)) ifelse(is.na(x), "NA", sprintf("%.17g", x)) else x)
  write.csv(df, file, row.names = FALSE, quote = FALSE)
}
n <- 90
grp <- rep(c("comparison", "program"), length.out = n)
# time 0 = first identified; entry = days until program entry (0 for about a fifth)
entry <- ifelse(runif(n) < 0.2, 0, round(runif(n, 1, 60)))
fu_end <- entry + round(runif(n, 80, 400))
rate <- ifelse(grp == "program", 0.006, 0.010) * rgamma(n, shape = 2, rate = 2)
ep_rows <- list()
int_rows <- list()
for (i in seq_len(n)) {
  t <- entry[i]
  k <- 0
  at_risk_from <- entry[i]
  repeat {
    gap <- max(1, round(rexp(1, rate[i])))
    s <- at_risk_from + gap
    if (s > fu_end[i]) break
    k <- k + 1
    away <- ifelse(runif(1) < 0.5, 0, round(runif(1, 1, 20)))  # days away; 0 = back same day
    e <- s + away
    ep_rows[[length(ep_rows) + 1]] <- data.frame(
      youth = sprintf("Y%03d", i), group = grp[i], entered = entry[i], followup_end = fu_end[i],
      run_start = s, run_end = e)
    int_rows[[length(int_rows) + 1]] <- data.frame(
      youth = sprintf("Y%03d", i), group = grp[i], start = at_risk_from, stop = s, event = 1,
      episode = k)
    at_risk_from <- e
    if (at_risk_from >= fu_end[i]) break
  }
  if (k == 0) {
    ep_rows[[length(ep_rows) + 1]] <- data.frame(
      youth = sprintf("Y%03d", i), group = grp[i], entered = entry[i], followup_end = fu_end[i],
      run_start = NA, run_end = NA)
  }
  if (at_risk_from < fu_end[i]) {
    int_rows[[length(int_rows) + 1]] <- data.frame(
      youth = sprintf("Y%03d", i), group = grp[i], start = at_risk_from, stop = fu_end[i],
      event = 0, episode = k + 1)
  }
}
eps <- do.call(rbind, ep_rows)
ints <- do.call(rbind, int_rows)
write.csv(eps, file.path(out, "recurrent_episodes.csv"), row.names = FALSE, na = "")
wcsv(ints, file.path(out, "recurrent_intervals_R.csv"))

# (a) time to first episode with delayed entry: Surv(entered, first episode or end, event)
first <- ints[ints$episode == 1, ]
first$exit <- first$stop
km_rows <- list()
for (ct in c("log", "log-log", "plain")) {
  fit <- survfit(Surv(start, exit, event) ~ group, data = first, conf.type = ct)
  s <- summary(fit, censored = TRUE)
  km_rows[[ct]] <- data.frame(conf_type = ct, group = sub("group=", "", as.character(s$strata)),
                              time = s$time, n_risk = s$n.risk, n_event = s$n.event,
                              n_censor = s$n.censor, surv = s$surv, std_err = s$std.err,
                              lower = s$lower, upper = s$upper)
}
km <- do.call(rbind, km_rows)
wcsv(km, file.path(out, "recurrent_km_entry_R.csv"))
fit <- survfit(Surv(start, exit, event) ~ group, data = first)
cat("km entry medians\n"); print(summary(fit)$table)
tab <- as.data.frame(summary(fit)$table)
tab <- data.frame(group = sub("group=", "", rownames(tab)), n_start = tab$n.start,
                  events = tab$events, median = tab$median, lower = tab[["0.95LCL"]],
                  upper = tab[["0.95UCL"]])
wcsv(tab, file.path(out, "recurrent_km_entry_median_R.csv"))

# (b) mean cumulative number of episodes: Nelson-Aalen with id (robust variance)
fit <- survfit(Surv(start, stop, event) ~ group, data = ints, id = youth, ctype = 1)
pl <- survival:::survfit_confint(fit$cumhaz, fit$std.chaz, logse = FALSE, "plain", 0.95,
                                 ulimit = FALSE)
lg <- survival:::survfit_confint(fit$cumhaz, fit$std.chaz, logse = FALSE, "log", 0.95,
                                 ulimit = FALSE)
mcf <- data.frame(group = rep(sub("group=", "", names(fit$strata)), fit$strata),
                  time = fit$time, n_risk = fit$n.risk, n_event = fit$n.event,
                  n_censor = fit$n.censor, cumhaz = fit$cumhaz, std_chaz = fit$std.chaz,
                  plain_lower = pl$lower, plain_upper = pl$upper,
                  log_lower = lg$lower, log_upper = lg$upper)
# survfit's n.censor with id and a grouping variable is taken from survflag() positions of the
# whole data rather than the group's rows (survival 3.5-3, survfitKM), so it is wrong in the
# grouped fit; the counts of censorings come from one fit per group, where it is right.
mcf$n_censor_grouped_fit <- mcf$n_censor
mcf$n_censor <- unlist(lapply(split(ints, ints$group), function(x)
  survfit(Surv(start, stop, event) ~ 1, data = x, id = youth, ctype = 1)$n.censor))
wcsv(mcf, file.path(out, "recurrent_mcf_R.csv"))
# the same without id: the Nelson-Aalen (non-robust) variance
fit0 <- survfit(Surv(start, stop, event) ~ group, data = ints, ctype = 1)
wcsv(data.frame(group = rep(sub("group=", "", names(fit0$strata)), fit0$strata),
                time = fit0$time, cumhaz = fit0$cumhaz, std_chaz = fit0$std.chaz),
     file.path(out, "recurrent_mcf_noid_R.csv"))
cat(R.version.string, "\nsurvival", format(packageVersion("survival")), "\n")
# summary(fit, times = ) for KaplanMeier.at and MeanCumulative.at
tm <- c(0, 30, 45.5, 100, 365)
s <- summary(survfit(Surv(start, exit, event) ~ group, data = first), times = tm)
wcsv(data.frame(group = sub("group=", "", as.character(s$strata)), time = s$time,
                n_risk = s$n.risk, surv = s$surv, std_err = s$std.err, lower = s$lower,
                upper = s$upper), file.path(out, "recurrent_km_entry_at_R.csv"))
s <- summary(fit, times = tm)
wcsv(data.frame(group = sub("group=", "", as.character(s$strata)), time = s$time,
                n_risk = s$n.risk, cumhaz = s$cumhaz, std_chaz = s$std.chaz),
     file.path(out, "recurrent_mcf_at_R.csv"))
