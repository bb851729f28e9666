# Reference values for evalkit.methods.fine_gray: R cmprsk::crr (Fine & Gray 1999).
# Run from the repository root:  Rscript tests/reference/fine_gray_reference.R
# Writes tests/reference/fine_gray_synth.csv (the synthetic data) and
# tests/reference/fine_gray_R.csv (coefficients, SEs, variances, log-likelihoods).
suppressMessages(library(cmprsk))
options(digits = 17)

# Synthetic competing-risks data: two causes plus censoring, times rounded to whole days so
# that events tie with each other and with censoring times; a 0/1 group, a continuous
# covariate and a discrete score.
set.seed(20261129)
n <- 400
group <- rbinom(n, 1, 0.45)
age <- round(rnorm(n, 15, 1.4), 1)
score <- sample(0:5, n, replace = TRUE)
lp1 <- log(0.65) * group + 0.15 * (age - 15) + 0.10 * score
t1 <- rweibull(n, shape = 0.9, scale = 120 * exp(-lp1 / 0.9))
t2 <- rexp(n, rate = 1 / 200 * exp(0.3 * group - 0.05 * score))
cens <- runif(n, 20, 300)
time <- ceiling(pmin(t1, t2, cens) / 3)
status <- ifelse(t1 <= pmin(t2, cens), 1L, ifelse(t2 <= cens, 2L, 0L))
synth <- data.frame(time = time, status = status, group = group, age = age, score = score)
write.csv(synth, "tests/reference/fine_gray_synth.csv", row.names = FALSE)

runaway <- read.csv("data/sample/placement_runaway.csv")

rows <- list()
add <- function(name, fit) {
  se <- sqrt(diag(fit$var))
  v <- fit$var
  p <- length(fit$coef)
  for (j in seq_len(p)) {
    rows[[length(rows) + 1]] <<- data.frame(
      fit = name, term = names(fit$coef)[j], coef = fit$coef[j], se = se[j],
      var_row = paste(sprintf("%.17g", v[j, ]), collapse = ";"),
      loglik = fit$loglik, loglik_null = fit$loglik.null,
      converged = fit$converged, n = fit$n, stringsAsFactors = FALSE)
  }
}

cov_s <- as.matrix(synth[, c("group", "age", "score")])
add("synth_cause1", crr(synth$time, synth$status, cov_s, failcode = 1, cencode = 0))
add("synth_cause2", crr(synth$time, synth$status, cov_s, failcode = 2, cencode = 0))
add("synth_group_only", crr(synth$time, synth$status, as.matrix(synth[, "group", drop = FALSE]),
                             failcode = 1, cencode = 0))
# other codes: censored = 9, the competing cause split into 2 and 3 (same fit as cause 1)
recoded <- ifelse(synth$status == 0, 9L, ifelse(synth$status == 2 & seq_len(n) %% 2 == 0, 3L,
                                                synth$status))
add("synth_recoded", crr(synth$time, recoded, cov_s, failcode = 1, cencode = 9))
# one Newton step only: not converged, the estimate after that step
add("synth_maxiter1", crr(synth$time, synth$status, cov_s, failcode = 1, cencode = 0,
                          maxiter = 1))
# no censoring at all (weights all 1)
nc <- synth$status != 0
add("synth_nocens", crr(synth$time[nc], synth$status[nc], cov_s[nc, ], failcode = 1,
                        cencode = 0))
cov_r <- as.matrix(runaway[, c("specialized", "age")])
add("runaway_cause1", crr(runaway$days, runaway$outcome, cov_r, failcode = 1, cencode = 0))
cov_r4 <- as.matrix(runaway[, c("specialized", "age", "prior_runaways", "prior_placements")])
add("runaway4_cause1", crr(runaway$days, runaway$outcome, cov_r4, failcode = 1, cencode = 0))
add("runaway4_cause2", crr(runaway$days, runaway$outcome, cov_r4, failcode = 2, cencode = 0))

out <- do.call(rbind, rows)
out$coef <- sprintf("%.17g", out$coef)
out$se <- sprintf("%.17g", out$se)
out$loglik <- sprintf("%.17g", out$loglik)
out$loglik_null <- sprintf("%.17g", out$loglik_null)
write.csv(out, "tests/reference/fine_gray_R.csv", row.names = FALSE)
cat("cmprsk", as.character(packageVersion("cmprsk")), "\n")
print(out[, c("fit", "term", "coef", "se", "loglik", "converged")])
