# Reference values for weighted Kaplan-Meier and weighted Cox regression
# (tests/test_survival_weights.py). R 4 with survival 3.5-3 and jsonlite:
#   Rscript tests/reference/survival_weights_reference.R
# writes tests/reference/survival_weights_reference.json next to this script.
#
# The data are synthetic (seeded) and embedded in the JSON: 160 youth, a 0/1 program
# indicator chosen on two intake covariates (selection on observables), whole-day times with
# many ties, and censoring in both groups. ATT weights come from a logit fitted by glm.
suppressPackageStartupMessages({library(survival); library(jsonlite)})
here <- tryCatch(dirname(normalizePath(sys.frame(1)$ofile)), error = function(e) {
  a <- grep("^--file=", commandArgs(FALSE), value = TRUE)
  dirname(normalizePath(sub("^--file=", "", a)))
})

set.seed(20240613)
n <- 160
x <- round(rnorm(n), 3)
z <- rbinom(n, 1, 0.4)
group <- rbinom(n, 1, plogis(-0.4 + 0.9 * x + 0.7 * z))
rate <- 0.04 * exp(0.5 * x - 0.5 * group + 0.3 * z)
ev_time <- ceiling(rexp(n, rate))
cens <- ceiling(runif(n, 5, 60))
time <- pmin(ev_time, cens)
status <- as.integer(ev_time <= cens)
d <- data.frame(time = time, status = status, x = x, z = z, group = group)

# ATT weights from the logit: 1 for program youth, ps / (1 - ps) for the comparison group
ps_fit <- glm(group ~ x + z, family = binomial, data = d)
ps <- unname(fitted(ps_fit))
d$w <- ifelse(d$group == 1, 1, ps / (1 - ps))
# whole-number weights (frequency weights: survfit keeps the Greenwood variance)
d$w_int <- rep(c(1, 2, 3, 1, 2), length.out = n)
# some weights zero (youth left out by matching); rows 40 and 90 are alone at their times in
# their groups, so survfit lists those times with nothing at risk or happening there
d$w_zero <- d$w
zero_rows <- c(3, 8, 15, 22, 40, 41, 77, 90, 123, 150)
d$w_zero[zero_rows] <- 0

km_out <- function(fit, times = c(4, 10, 25, 40)) {
  s <- summary(fit, censored = TRUE)
  strata <- if (is.null(s$strata)) rep("all", length(s$time)) else
    sub("^group=", "", as.character(s$strata))
  tab <- data.frame(group = strata, time = s$time, n_risk = s$n.risk, n_event = s$n.event,
                    n_censor = s$n.censor, surv = s$surv, std_err = s$std.err,
                    lower = s$lower, upper = s$upper)
  st <- summary(fit)$table
  if (is.null(dim(st))) st <- t(as.matrix(st))
  lev <- if (is.null(fit$strata)) "all" else sub("^group=", "", names(fit$strata))
  lcl <- grep("LCL$", colnames(st)); ucl <- grep("UCL$", colnames(st))
  med <- data.frame(group = lev, n = unname(st[, "n.max"]), records = unname(st[, "records"]),
                    events = unname(st[, "events"]), median = unname(st[, "median"]),
                    lower = unname(st[, lcl]), upper = unname(st[, ucl]))
  at <- summary(fit, times = times)
  at_strata <- if (is.null(at$strata)) rep("all", length(at$time)) else
    sub("^group=", "", as.character(at$strata))
  at_tab <- data.frame(group = at_strata, time = at$time, n_risk = at$n.risk, surv = at$surv,
                       std_err = at$std.err, lower = at$lower, upper = at$upper)
  list(table = tab, median = med, at = at_tab, logse = fit$logse)
}

km <- list()
for (ct in c("log", "log-log", "plain")) {
  km[[paste0("att_", ct)]] <- km_out(survfit(Surv(time, status) ~ group, data = d,
                                             weights = w, conf.type = ct))
}
km$att_greenwood <- km_out(survfit(Surv(time, status) ~ group, data = d, weights = w,
                                   robust = FALSE))
km$att_one_curve <- km_out(survfit(Surv(time, status) ~ 1, data = d, weights = w))
km$att_alpha10 <- km_out(survfit(Surv(time, status) ~ group, data = d, weights = w,
                                 conf.int = 0.90))
km$integer <- km_out(survfit(Surv(time, status) ~ group, data = d, weights = w_int))
km$integer_robust <- km_out(survfit(Surv(time, status) ~ group, data = d, weights = w_int,
                                    robust = TRUE))
km$zero <- km_out(survfit(Surv(time, status) ~ group, data = d, weights = w_zero))
km$unweighted_robust <- km_out(survfit(Surv(time, status) ~ group, data = d, robust = TRUE))
# a curve that drops to 0: everyone left at the last time has the event
tiny <- data.frame(time = c(1, 2, 3, 3), status = c(1, 0, 1, 1), w = c(1.5, 1, 0.5, 2))
km$tiny_robust <- km_out(survfit(Surv(time, status) ~ 1, data = tiny, weights = w),
                         times = c(1, 2.5, 3))
km$tiny_greenwood <- km_out(survfit(Surv(time, status) ~ 1, data = tiny, weights = w,
                                    robust = FALSE), times = c(1, 2.5, 3))

cox_out <- function(fit) {
  list(coef = unname(coef(fit)), se = unname(sqrt(diag(fit$naive.var))),
       robust_se = unname(sqrt(diag(fit$var))), loglik = unname(fit$loglik),
       n = fit$n, nevent = fit$nevent)
}
cox <- list()
for (ties in c("efron", "breslow")) {
  cox[[ties]] <- cox_out(coxph(Surv(time, status) ~ x + group, data = d, weights = w,
                               robust = TRUE, ties = ties))
}
cox$efron_x_z <- cox_out(coxph(Surv(time, status) ~ x + z + group, data = d, weights = w,
                               robust = TRUE, ties = "efron"))

out <- list(
  r_version = R.version.string, survival_version = as.character(packageVersion("survival")),
  data = d[, c("time", "status", "x", "z", "group", "w", "w_int", "w_zero")], tiny = tiny,
  ps_coef = as.list(coef(ps_fit)), ps = ps,
  km = km, cox = cox)
writeLines(toJSON(out, digits = NA, auto_unbox = TRUE, na = "null", dataframe = "columns"),
           file.path(here, "survival_weights_reference.json"))
