# Reference values for Cox regression at scale and on log-likelihood plateaus
# (tests/test_survival_edge.py).
#
# Run from the repository root (/work/main):
#   Rscript tests/reference/cox_reference.R > tests/reference/cox_reference.txt
#
# Prints "name value" lines (sprintf("%.15g")) under "[section]" headers.
#
# [cox_heavy_ties_*]: 40,000 subjects, five normal covariates, whole-day times 1..50
# (about 310 tied events per day). The data are generated here and in the Python test by
# the same integer recurrence (Park-Miller "minimal standard" generator,
# x <- 48271 * x mod (2^31 - 1), exact in double precision), so nothing large is committed:
#   u     = x / (2^31 - 1), 8 per subject (row-major)
#   z     = Box-Muller: sqrt(-2 log u1) * (cos, sin)(2 pi u2), on (u1,u2), (u3,u4), (u5,u6);
#           x0..x4 are the first five
#   T     = -log(u7) / (0.02 * exp(x . beta)), beta = (-0.5, 0.3, 0.2, -0.1, 0.05)
#   C     = 50 * u8;  time = min(ceiling(min(T, C)), 50);  event = T <= C
# The sums printed under [cox_heavy_ties_data] let the test check it rebuilt the same data.
#
# [cox_plateau_*]: cox_plateau.csv holds two small data sets (cases seed2, seed5) on which
# Newton-Raphson reaches a log-likelihood plateau at rounding level; evalkit before the fix
# started step halving on that noise and reported no convergence (seed2 with Efron, seed5
# with Breslow). R's coxph converges.

suppressPackageStartupMessages(library(survival))
ref_dir <- "tests/reference"
if (!file.exists(file.path(ref_dir, "cox_plateau.csv"))) ref_dir <- "."

fmt <- function(x) sprintf("%.15g", x)
pr <- function(name, x) cat(name, " ", fmt(as.numeric(x)), "\n", sep = "")
section <- function(s) cat("\n[", s, "]\n", sep = "")

lcg <- function(n, seed) {
  out <- numeric(n)
  x <- seed
  for (i in seq_len(n)) {
    x <- (x * 48271) %% 2147483647
    out[i] <- x
  }
  out / 2147483647
}

heavy_ties <- function(n = 40000, seed = 20261128) {
  u <- matrix(lcg(8 * n, seed), ncol = 8, byrow = TRUE)
  r <- function(k) sqrt(-2 * log(u[, k]))
  z <- cbind(r(1) * cos(2 * pi * u[, 2]), r(1) * sin(2 * pi * u[, 2]),
             r(3) * cos(2 * pi * u[, 4]), r(3) * sin(2 * pi * u[, 4]),
             r(5) * cos(2 * pi * u[, 6]))
  beta <- c(-0.5, 0.3, 0.2, -0.1, 0.05)
  t_ev <- -log(u[, 7]) / (0.02 * exp(drop(z %*% beta)))
  t_c <- 50 * u[, 8]
  d <- data.frame(z)
  names(d) <- paste0("x", 0:4)
  d$time <- pmin(ceiling(pmin(t_ev, t_c)), 50)
  d$event <- as.integer(t_ev <= t_c)
  d
}

cox_print <- function(fit) {
  cf <- summary(fit)$coefficients
  for (tm in rownames(cf)) {
    pr(paste0(tm, "_coef"), cf[tm, "coef"])
    pr(paste0(tm, "_se"), cf[tm, "se(coef)"])
  }
  pr("loglik_null", fit$loglik[1])
  pr("loglik", fit$loglik[2])
  pr("score_stat", fit$score)
  pr("iter", fit$iter)
}

cat("[versions]\n")
cat("R_version ", paste(R.version$major, R.version$minor, sep = "."), "\n", sep = "")
cat("survival ", as.character(packageVersion("survival")), "\n", sep = "")

d <- heavy_ties()
section("cox_heavy_ties_data")
pr("n", nrow(d)); pr("sum_time", sum(d$time)); pr("sum_event", sum(d$event))
pr("distinct_times", length(unique(d$time)))
pr("sum_x", sum(as.matrix(d[, paste0("x", 0:4)])))
form <- Surv(time, event) ~ x0 + x1 + x2 + x3 + x4
for (ties in c("efron", "breslow")) {
  section(paste0("cox_heavy_ties_", ties))
  cox_print(coxph(form, data = d, ties = ties))
}

pl <- read.csv(file.path(ref_dir, "cox_plateau.csv"))
for (case in c("seed2", "seed5")) for (ties in c("efron", "breslow")) {
  section(paste0("cox_plateau_", case, "_", ties))
  cox_print(coxph(Surv(time, event) ~ a + b + c, data = pl[pl$case == case, ], ties = ties))
}
