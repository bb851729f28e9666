# Interrupted time series on a series with two periods before the intervention, with Newey-West
# standard errors (tests/test_policy_its.py). Run from the repository root:
#   Rscript tests/reference/its_edge_reference.R > tests/reference/its_edge_reference.txt
# R 4.2.2, sandwich 3.0-2, lmtest 0.9-40. Prints "name value" lines (%.15g).
#
# Two pre-periods are fitted exactly, so every period that moves the intercept or the trend has
# a zero residual: their Newey-West variances are zero in exact arithmetic, and R prints
# rounding noise (a NaN from a variance of -1e-31, or an SE of 1e-8 with p = 1e-9). The level
# and slope changes are measured from the post-periods' residuals and are real numbers.
suppressPackageStartupMessages({library(sandwich); library(lmtest)})
pr <- function(name, x) cat(name, " ", sprintf("%.15g", as.numeric(x)), "\n", sep = "")
t <- 0:4; y <- c(7.4, 7.6, 7.44, 11.93, 9.28); t0 <- 2
post <- as.numeric(t >= t0); slope <- pmax(t - t0, 0) * post
f <- lm(y ~ t + post + slope)
ct <- suppressWarnings(coeftest(f, vcov. = NeweyWest(f, lag = 0, prewhite = FALSE)))
for (term in c("post", "slope")) {
  pr(paste0(term, "_estimate"), ct[term, 1]); pr(paste0(term, "_se"), ct[term, 2])
  pr(paste0(term, "_p"), ct[term, 4])
}
pr("trend_se", ct["t", 2]); pr("intercept_se", ct["(Intercept)", 2])
