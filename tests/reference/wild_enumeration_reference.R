# Reference values for evalkit's restricted wild cluster bootstrap (WCR) under full
# enumeration of the 2^G Rademacher sign patterns (tests/test_did_small.py).
#
# fwildclusterboot is not installable here, so the bootstrap is enumerated by hand with base R
# regressions and sandwich::vcovCL cluster-robust variances: for H0: beta_x = r, fit the
# restricted model (y - r x on the other regressors), and for every sign vector v form
# y* = yhat_r + v[cluster] * u_r, refit y* ~ x (+ the other regressors), and take
# t* = (b* - r) / se_CR(b*). The p-value counts |t*| >= |t| (ties, within a relative 1e-9,
# count: the unflipped pattern and its negation reproduce |t|); p_strict counts |t*| > |t|, the
# convention of boottest and fwildclusterboot. The small-sample factor of the CR variance is
# the same in every draw and cancels.
#
# The confidence interval is {r : p(r) > alpha}, alpha = 0.05, each end found by bisection from
# the bracket evalkit uses: doubling steps of the unscaled cluster-robust SE (HC0, cadjust =
# FALSE) from the estimate, then 60 halvings.
#
# Data: wild_enumeration_data.csv, written by wild_enumeration_data.py (numpy, fixed
# seed). Run from the repository root (about 2 minutes):
#   Rscript tests/reference/wild_enumeration_reference.R > tests/reference/wild_enumeration_reference.txt
# It writes tests/reference/wild_enumeration_R.csv.
suppressMessages(library(sandwich))
d <- read.csv("tests/reference/wild_enumeration_data.csv", stringsAsFactors = FALSE)
signs <- function(G) {
  B <- 2^G
  sapply(0:(B - 1), function(b) (bitwAnd(b, 2^(0:(G - 1))) > 0) * 2 - 1)  # G x B
}
tstat <- function(fit, cl, r, type = "HC1", cadjust = TRUE) {
  V <- vcovCL(fit, cluster = cl, type = type, cadjust = cadjust)
  (coef(fit)[["x"]] - r) / sqrt(V["x", "x"])
}
wild <- function(dd, rhs) {
  cl <- factor(dd$cluster)
  G <- nlevels(cl)
  V <- signs(G)
  f_full <- as.formula(paste("y ~ x", rhs))
  f_star <- as.formula(paste("ystar ~ x", rhs))
  fit <- lm(f_full, data = dd)
  b <- coef(fit)[["x"]]
  se0 <- sqrt(vcovCL(fit, cluster = dd$cluster, type = "HC0", cadjust = FALSE)["x", "x"])
  pvals <- function(r) {
    t_obs <- tstat(fit, dd$cluster, r)
    dd$yr <- dd$y - r * dd$x
    restricted <- if (rhs == "") lm(yr ~ 1, data = dd) else
      lm(as.formula(paste("yr ~ 1", rhs)), data = dd)
    yhat <- fitted(restricted) + r * dd$x
    u <- residuals(restricted)
    tb <- apply(V, 2, function(v) {
      dd$ystar <- yhat + v[as.integer(cl)] * u
      tstat(lm(f_star, data = dd), dd$cluster, r)
    })
    c(p = mean(abs(tb) >= abs(t_obs) * (1 - 1e-9)), strict = mean(abs(tb) > abs(t_obs) * (1 + 1e-9)))
  }
  bound <- function(direction) {
    if (2 / 2^G > 0.05) return(direction * Inf)
    inside <- b; step <- se0; outside <- b + direction * step
    while (pvals(outside)[["p"]] > 0.05) {
      if (step > 1e6 * se0) return(direction * Inf)
      inside <- outside; step <- step * 2; outside <- b + direction * step
    }
    for (i in 1:60) {
      mid <- (inside + outside) / 2
      if (pvals(mid)[["p"]] > 0.05) inside <- mid else outside <- mid
      if (abs(outside - inside) <= 1e-12 * max(abs(mid), se0)) break
    }
    (inside + outside) / 2
  }
  p <- pvals(0)
  data.frame(G = G, estimate = b, t = tstat(fit, dd$cluster, 0), p_value = p[["p"]],
             p_value_strict = p[["strict"]], ci_low = bound(-1), ci_high = bound(1))
}
out <- NULL
for (des in unique(d$design)) {
  dd <- d[d$design == des, ]
  rhs <- if (startsWith(des, "twfe")) "+ factor(unit) + factor(period)" else ""
  out <- rbind(out, cbind(design = des, wild(dd, rhs)))
}
write.csv(out, "tests/reference/wild_enumeration_R.csv", row.names = FALSE)
options(digits = 15)
print(out)
cat(R.version.string, "; sandwich", as.character(packageVersion("sandwich")), "\n")
