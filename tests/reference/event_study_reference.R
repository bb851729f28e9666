# Reference values for evalkit.methods.did.event_study.event_study with covariates, weights
# and vcov, on data/sample/safe_harbor_panel.csv.
#
# The target is fixest::feols(y ~ i(rel, ref = c(-1, -1000)) + x | state + year,
# weights = ~w, cluster = ~state) (never-treated states have rel = -1000), reproduced with
# lm on explicit event-time dummies (relative times binned at the window's ends) and
# factor(state) + factor(year):
#  * coefficients: identical (the fixed effects are dummies in lm).
#  * CRV1: fixest's default ssc (R/VCOV.R) is G/(G-1) * (n-1)/(n-K) with K = nparams less
#    the fixed effects nested in the cluster (fixef.K = "nested"): the state effects are
#    nested in state clusters, so K = k + T (k regressors, T years). sandwich::vcovCL(type =
#    "HC1") uses G/(G-1) * (n-1)/(n-k_lm) with k_lm = k + S + T - 1 (every lm coefficient),
#    so fixest = vcovCL(HC1) * (n - k_lm) / (n - K). t with G - 1 df (ssc t.df = "min").
#  * hetero: fixest n/(n-1) * (n-1)/(n-nparams) = n/(n - k_lm) = sandwich::vcovHC(HC1).
#  * iid: fixest sigma2 (X'WX)^-1 with sigma2 = RSS/(n - nparams) = vcov(lm). t with
#    n - k_lm df.
# Weights, built the same way in the test: w = 1 + (i %% 7) / 2 + (year - 2000) / 10, i the
# 0-based position of the state among the sorted state codes.
# Run: Rscript tests/reference/event_study_reference.R   (writes event_study_reference_*.csv)
suppressPackageStartupMessages(library(sandwich))
d <- read.csv("data/sample/safe_harbor_panel.csv")
states <- sort(unique(d$state))
d$w <- 1 + ((match(d$state, states) - 1) %% 7) / 2 + (d$year - 2000) / 10
n <- nrow(d); S <- length(states); Tn <- length(unique(d$year)); G <- S
cases <- list(
  list(name = "cov_weights_crv1", window = c(-5, 5), x = "reports_per_100k", w = TRUE,
       vcov = "CRV1"),
  list(name = "weights_hetero", window = c(-3, 3), x = NULL, w = TRUE, vcov = "hetero"),
  list(name = "cov_iid", window = c(-5, 5), x = "reports_per_100k", w = FALSE, vcov = "iid"),
  list(name = "default_crv1", window = c(-5, 5), x = NULL, w = FALSE, vcov = "CRV1")
)
coefs <- list(); covs <- list(); tests <- list()
for (cs in cases) {
  lo <- cs$window[1]; hi <- cs$window[2]
  treated <- d$first_law_year != 0
  rel <- pmin(pmax(d$year - d$first_law_year, lo), hi)
  X <- d
  terms <- c()
  for (k in lo:hi) {
    if (k == -1) next
    nm <- sprintf("rel %d", k)
    v <- as.numeric(treated & rel == k)
    if (sum(v) == 0) next
    X[[nm]] <- v
    terms <- c(terms, nm)
  }
  regs <- c(terms, cs$x)
  f <- as.formula(paste("arrests_per_100k ~", paste(sprintf("`%s`", regs), collapse = " + "),
                        "+ factor(state) + factor(year)"))
  fit <- if (cs$w) lm(f, data = X, weights = w) else lm(f, data = X)
  k <- length(regs); k_lm <- fit$rank
  stopifnot(k_lm == k + S + Tn - 1)
  bt <- ifelse(grepl(" ", regs), sprintf("`%s`", regs), regs)
  if (cs$vcov == "CRV1") {
    V <- vcovCL(fit, cluster = ~state, type = "HC1") * (n - k_lm) / (n - (k + Tn))
    df <- G - 1
  } else if (cs$vcov == "hetero") {
    V <- vcovHC(fit, type = "HC1"); df <- n - k_lm
  } else {
    V <- vcov(fit); df <- n - k_lm
  }
  V <- V[bt, bt]
  b <- coef(fit)[bt]
  se <- sqrt(diag(V))
  q <- qt(0.975, df)
  coefs[[cs$name]] <- data.frame(case = cs$name, term = regs, estimate = unname(b),
                                 se = unname(se), ci_low = unname(b - q * se),
                                 ci_high = unname(b + q * se),
                                 p_value = unname(2 * pt(-abs(b / se), df)), df = df)
  covs[[cs$name]] <- data.frame(case = cs$name, row = rep(regs, times = k),
                                col = rep(regs, each = k), value = as.vector(V))
  pre <- which(grepl("^rel -", regs))
  stat <- as.numeric(t(b[pre]) %*% solve(V[pre, pre], b[pre]))
  tests[[cs$name]] <- data.frame(case = cs$name, statistic = stat, df = length(pre),
                                 p_value = pchisq(stat, length(pre), lower.tail = FALSE))
}
fmt <- function(x) { x[] <- lapply(x, function(v) if (is.numeric(v)) sprintf("%.15g", v) else v); x }
write.csv(fmt(do.call(rbind, coefs)), "tests/reference/event_study_reference_coef.csv", row.names = FALSE)
write.csv(fmt(do.call(rbind, covs)), "tests/reference/event_study_reference_cov.csv", row.names = FALSE)
write.csv(fmt(do.call(rbind, tests)), "tests/reference/event_study_reference_pretest.csv", row.names = FALSE)
print(do.call(rbind, tests))
