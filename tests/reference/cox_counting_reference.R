# Reference values for the counting-process Cox model, (start, stop] data
# (tests/test_cox_counting.py).
#
# Run from the repository root (/work/main):
#   Rscript tests/reference/cox_counting_reference.R
# It writes tests/reference/cox_counting_data.csv (the synthetic data, generated here) and
# tests/reference/cox_counting_R.csv (model, ties, quantity, term, value at 17 digits).
#
# Data: 400 youth followed in whole days, entering follow-up between day 0 and 60 (delayed
# entry) and followed 100-400 days. x1 (0/1 program) and x2 (normal) are fixed per youth;
# z (placement) switches once at a random day during follow-up (time-varying). Episodes
# recur with a piecewise-constant hazard 0.004 exp(-0.5 x1 + 0.3 x2 + 0.6 z + 0.2 [ep > 1]);
# event days are whole days, so events tie, and a youth's next interval starts on the day
# of the event that ended the previous one. Rows are (start, stop] intervals, split at
# events and at the placement change; ep is the episode number (1 + earlier events, at most
# 3); w is a per-youth case weight.
#
# Models (each with ties = "efron" and "breslow"):
#   ag       Surv(start, stop, event) ~ x1 + x2 + z, cluster = id    (Andersen-Gill)
#   pwp      ... + strata(ep), cluster = id                           (PWP total time)
#   weighted ag with weights = w, cluster = id
#   plain    ag without cluster (model-based SEs only)

suppressPackageStartupMessages(library(survival))
ref_dir <- "tests/reference"
if (!dir.exists(ref_dir)) ref_dir <- "."

set.seed(16)
rows <- list()
k <- 0
for (i in 1:400) {
  x1 <- rbinom(1, 1, 0.5)
  x2 <- round(rnorm(1), 3)
  w <- round(runif(1, 0.5, 2), 3)
  entry <- sample(0:60, 1)
  end <- entry + sample(100:400, 1)
  change <- entry + sample(1:(end - entry - 1), 1)
  z0 <- rbinom(1, 1, 0.4)
  t <- entry
  ep <- 1
  while (t < end) {
    zc <- if (t < change) z0 else 1 - z0
    seg_end <- if (t < change) change else end
    rate <- 0.004 * exp(-0.5 * x1 + 0.3 * x2 + 0.6 * zc + 0.2 * (ep > 1))
    nxt <- t + ceiling(rexp(1, rate))
    if (nxt <= seg_end) {
      k <- k + 1
      rows[[k]] <- c(i, t, nxt, 1, x1, x2, zc, min(ep, 3), w)
      t <- nxt
      ep <- ep + 1
    } else {
      k <- k + 1
      rows[[k]] <- c(i, t, seg_end, 0, x1, x2, zc, min(ep, 3), w)
      t <- seg_end
    }
  }
}
d <- as.data.frame(do.call(rbind, rows))
names(d) <- c("id", "start", "stop", "event", "x1", "x2", "z", "ep", "w")
write.csv(d, file.path(ref_dir, "cox_counting_data.csv"), row.names = FALSE)

out <- data.frame(model = character(), ties = character(), quantity = character(),
                  term = character(), value = character())
add <- function(model, ties, quantity, term, value) {
  out[nrow(out) + 1, ] <<- list(model, ties, quantity, term, sprintf("%.17g", value))
}
record <- function(model, ties, f) {
  terms <- names(coef(f))
  for (j in seq_along(terms)) {
    add(model, ties, "coef", terms[j], coef(f)[j])
    add(model, ties, "se", terms[j], sqrt(diag(f$naive.var %||% f$var))[j])
    if (!is.null(f$naive.var)) add(model, ties, "robust_se", terms[j], sqrt(diag(f$var))[j])
  }
  add(model, ties, "loglik_null", "", f$loglik[1])
  add(model, ties, "loglik", "", f$loglik[2])
  add(model, ties, "score", "", f$score)
  add(model, ties, "wald", "", f$wald.test)
  add(model, ties, "concordance", "", f$concordance[["concordance"]])
  add(model, ties, "n", "", f$n)
  add(model, ties, "nevent", "", f$nevent)
  add(model, ties, "iter", "", f$iter)
}
`%||%` <- function(a, b) if (is.null(a)) b else a

for (ties in c("efron", "breslow")) {
  record("ag", ties, coxph(Surv(start, stop, event) ~ x1 + x2 + z, data = d, ties = ties,
                           cluster = id))
  record("pwp", ties, coxph(Surv(start, stop, event) ~ x1 + x2 + z + strata(ep), data = d,
                            ties = ties, cluster = id))
  record("weighted", ties, coxph(Surv(start, stop, event) ~ x1 + x2 + z, data = d,
                                 ties = ties, cluster = id, weights = w))
  record("plain", ties, coxph(Surv(start, stop, event) ~ x1 + x2 + z, data = d, ties = ties))
}
write.csv(out, file.path(ref_dir, "cox_counting_R.csv"), row.names = FALSE)
cat("rows", nrow(d), "youth", length(unique(d$id)), "events", sum(d$event), "\n")
cat("survival", as.character(packageVersion("survival")), "\n")
