# Reference values for the odds ratio of evalkit.weighting.effect with vcov = "vcovCL" and for
# an adjusted comparison whose covariate is balanced by design (tests/test_weighting.py).
# Run from the repository root:
#   Rscript tests/reference/weighting_edge_reference.R
# R 4.2.2, sandwich 3.0-2, lmtest 0.9-40, survey 4.1-1, jsonlite 1.8.4. Reads
# tests/reference/lalonde.csv; writes tests/reference/weighting_edge_reference.json.
#
# 1. glm(employed78 ~ treat, quasibinomial, weights = w) with sandwich::vcovCL(type = "HC1"),
#    clustered by site and not: lmtest::coeftest on a glm is a z test (coeftest.glm has
#    df = Inf), and coefci gives the normal interval. w = 1 + (row - 1) %% 3 / 2.
# 2. A covariate balanced by design (half of each group female): the propensity glm gives
#    every youth the score 0.5, ATT weights are all 1, and the doubly robust effect is
#    svyglm(post ~ g + female) on those weights.
suppressPackageStartupMessages({
  library(sandwich); library(lmtest); library(survey); library(jsonlite)
})
d <- read.csv("tests/reference/lalonde.csv")
d$w <- 1 + ((seq_len(nrow(d)) - 1) %% 3) / 2
or_ref <- function(V, fit) {
  ct <- coeftest(fit, vcov. = V)
  ci <- coefci(fit, vcov. = V)
  list(log_or = ct["treat", 1], se = ct["treat", 2], p_value = ct["treat", 4],
       ci_low = ci["treat", 1], ci_high = ci["treat", 2],
       z_test = as.numeric(grepl("z", colnames(ct)[4])))
}
fit <- glm(employed78 ~ treat, data = d, family = quasibinomial(), weights = w)
out <- list(
  versions = list(R = R.version.string, sandwich = as.character(packageVersion("sandwich")),
                  lmtest = as.character(packageVersion("lmtest")),
                  survey = as.character(packageVersion("survey"))),
  vcovcl_site = or_ref(vcovCL(fit, cluster = ~site, type = "HC1"), fit),
  vcovcl_hc1 = or_ref(vcovCL(fit, type = "HC1"), fit))

set.seed(20261129)
b <- data.frame(g = rep(c(1, 0), each = 10), female = rep(c(1, 0), 10),
                post = round(rnorm(20), 2))
ps <- fitted(glm(g ~ female, data = b, family = binomial()))
b$w <- ifelse(b$g == 1, 1, ps / (1 - ps))
m <- svyglm(post ~ g + female, design = svydesign(ids = ~1, weights = ~w, data = b))
ci <- confint(m)
out$balanced <- list(post = b$post, ps = unname(ps),
                     estimate = unname(coef(m)["g"]),
                     se = unname(summary(m)$coefficients["g", 2]),
                     p_value = unname(summary(m)$coefficients["g", 4]),
                     df = m$df.residual, ci_low = ci["g", 1], ci_high = ci["g", 2])
writeLines(toJSON(out, auto_unbox = TRUE, digits = NA, pretty = TRUE),
           "tests/reference/weighting_edge_reference.json")
