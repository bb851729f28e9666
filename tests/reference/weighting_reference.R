# Reference values for evalkit.weighting and evalkit.missing (tests/test_weighting.py,
# tests/test_missing.py). Run from the repository root:
#   Rscript tests/reference/weighting_reference.R
# R 4.2, MatchIt 4.5.1, survey 4.1.1, sandwich 3.0-2, mice 3.15.0, jsonlite 1.8.4.
# Writes tests/reference/lalonde.csv (MatchIt's Lalonde data with a made-up site column) and
# tests/reference/weighting_reference.json.
suppressPackageStartupMessages({
  library(MatchIt); library(survey); library(sandwich); library(mice); library(jsonlite)
})
data("lalonde", package = "MatchIt")
d <- lalonde
d$race <- as.character(d$race)
n <- nrow(d)
d$site <- ((seq_len(n) - 1) %% 25) + 1          # 25 made-up sites, for clustered SEs
d$employed78 <- as.integer(d$re78 > 0)            # a binary outcome
write.csv(cbind(id = rownames(d), d), "tests/reference/lalonde.csv", row.names = FALSE)
d$race <- factor(d$race, levels = c("black", "hispan", "white"))

f <- treat ~ age + educ + race + married + nodegree + re74 + re75
covs <- c("age", "educ", "race", "married", "nodegree", "re74", "re75")
out <- list(versions = list(R = R.version.string,
                            MatchIt = as.character(packageVersion("MatchIt")),
                            survey = as.character(packageVersion("survey")),
                            sandwich = as.character(packageVersion("sandwich")),
                            mice = as.character(packageVersion("mice"))))

## propensity scores and weights (WeightIt's formulas, written out by hand)
fit <- glm(f, data = d, family = binomial())
ps <- unname(fitted(fit))
tr <- d$treat
w <- list(ATT = ifelse(tr == 1, 1, ps / (1 - ps)),
          ATE = ifelse(tr == 1, 1 / ps, 1 / (1 - ps)),
          ATO = ifelse(tr == 1, 1 - ps, ps))
ess <- function(w) sum(w)^2 / sum(w^2)
out$propensity <- list(coef = as.list(coef(fit)), ps = ps, weights = w,
  ess = lapply(w, function(wi) list(treated = ess(wi[tr == 1]), control = ess(wi[tr == 0]))))

## balance: cobalt's SMD and variance ratio, written out by hand
X <- model.matrix(~ age + educ + race + married + nodegree + re74 + re75, d)[, -1]
X <- cbind(X[, c("age", "educ")], raceblack = as.numeric(d$race == "black"),
           X[, c("racehispan", "racewhite", "married", "nodegree", "re74", "re75")])
colnames(X) <- c("age", "educ", "race[black]", "race[hispan]", "race[white]", "married",
                 "nodegree", "re74", "re75")
is_bin <- apply(X, 2, function(x) length(unique(x)) == 2)
wvar <- function(x, w, bin) {         # cobalt's col.w.v
  w <- w / sum(w); m <- sum(w * x)
  if (bin) m * (1 - m) else sum(w * (x - m)^2) / (1 - sum(w^2))
}
bal <- function(wt, estimand) {
  rows <- lapply(colnames(X), function(v) {
    x <- X[, v]; b <- is_bin[[v]]
    v1 <- wvar(x[tr == 1], rep(1, sum(tr == 1)), b); v0 <- wvar(x[tr == 0], rep(1, sum(tr == 0)), b)
    denom <- switch(estimand, ATT = sqrt(v1), ATE = sqrt((v1 + v0) / 2),
                    ATO = sqrt(wvar(x, wt, b)))
    m1 <- weighted.mean(x[tr == 1], wt[tr == 1]); m0 <- weighted.mean(x[tr == 0], wt[tr == 0])
    vr <- if (b) NA else wvar(x[tr == 1], wt[tr == 1], b) / wvar(x[tr == 0], wt[tr == 0], b)
    list(covariate = v, mean_treated = m1, mean_control = m0,
         smd_raw = (mean(x[tr == 1]) - mean(x[tr == 0])) / denom,
         smd_adjusted = (m1 - m0) / denom, variance_ratio = vr, binary = b)
  })
  rows
}
out$balance <- list(ATT = bal(w$ATT, "ATT"), ATE = bal(w$ATE, "ATE"), ATO = bal(w$ATO, "ATO"))

## effects: survey::svyglm, ids = ~1 and ids = ~site
eff <- function(formula, wt, ids = ~1, family = gaussian()) {
  dd <- d; dd$w <- wt
  des <- svydesign(ids = ids, weights = ~w, data = dd)
  m <- svyglm(formula, design = des, family = family)
  s <- summary(m)$coefficients
  ci <- confint(m)
  list(estimate = unname(coef(m)["treat"]), se = unname(s["treat", 2]),
       p_value = unname(s["treat", 4]), df = m$df.residual,
       ci_low = unname(ci["treat", 1]), ci_high = unname(ci["treat", 2]))
}
fdr <- re78 ~ treat + age + educ + race + married + nodegree + re74 + re75
out$effect <- list(
  att_diff = eff(re78 ~ treat, w$ATT),
  att_dr = eff(fdr, w$ATT),
  ate_diff = eff(re78 ~ treat, w$ATE),
  ate_dr_site = eff(fdr, w$ATE, ids = ~site),
  att_diff_site = eff(re78 ~ treat, w$ATT, ids = ~site),
  att_rd = eff(employed78 ~ treat, w$ATT),
  att_logor = eff(employed78 ~ treat, w$ATT, family = quasibinomial()),
  att_rd_dr = eff(employed78 ~ treat + age + educ + race + married + nodegree + re74 + re75,
                  w$ATT),
  ate_logor_site = eff(employed78 ~ treat, w$ATE, ids = ~site, family = quasibinomial()))

## MatchIt nearest-neighbour matching (distance = "glm", m.order = "largest")
mi <- function(...) {
  m <- matchit(f, data = d, method = "nearest", ...)
  md <- match.data(m, drop.unmatched = TRUE)
  res <- list(distance = unname(m$distance), weights = unname(m$weights),
              subclass = if (is.null(m$subclass)) NULL else as.integer(as.character(m$subclass)),
              n_matched_treated = sum(m$weights[tr == 1] > 0),
              n_matched_control = sum(m$weights[tr == 0] > 0))
  # lm with weights and vcovCL clustered on subclass (no replacement), as in MatchIt's vignette
  if (!is.null(m$subclass)) {
    fits <- list(diff = lm(re78 ~ treat, data = md, weights = weights),
                 dr = lm(fdr, data = md, weights = weights))
    res$effect <- lapply(fits, function(fm) {
      V <- vcovCL(fm, cluster = md$subclass)   # = cluster = ~subclass
      se <- sqrt(V["treat", "treat"]); est <- coef(fm)[["treat"]]; dfr <- fm$df.residual
      list(estimate = est, se = se, df = dfr,
           p_value = 2 * pt(-abs(est / se), dfr),
           ci_low = est - qt(0.975, dfr) * se, ci_high = est + qt(0.975, dfr) * se)
    })
  }
  res
}
mm_rows <- function(mm, tr) {       # the match matrix as row numbers, one row per treated unit
  mm <- if (is.character(mm)) matrix(match(mm, rownames(d)), nrow(mm)) else mm
  unname(mm)
}
mi_r1 <- mi()   # its distance (the glm propensity score); its own pairs test effect() alone
out$matchit_own_r1 <- mi_r1
## MatchIt 4.5.1 as built here is not a usable reference for nearest-neighbour matching: its
## C++ distance takes the integer absolute value (MatchIt issue #163, "calipers would not work
## properly on some systems", fixed in 4.5.4), so every |difference| below 1 counts as 0. It
## then ignores any caliper (matchit(..., caliper = 0.01) returns the pairs found without one),
## pairs a treated unit with the first eligible control met rather than the nearest, and with
## ratio = 2 and replace = TRUE matches the same control twice. `matchit_defects` below
## records this. The matching references are therefore computed by hand with MatchIt's rule
## (MatchIt 4.x nn_matchC_vec): the distance is the glm propensity score (or its linear
## predictor with link = "linear.logit"); a caliper is caliper * sd(distance) over all units;
## without replacement, treated units in decreasing order of the distance, in rounds (each
## treated unit takes its r-th control in round r; a unit without a first control is left
## unmatched); with replacement, in the order of the data, each takes its `ratio` nearest
## controls. The nearest control is the one with the smallest |difference|; among equal
## differences, the one met first when walking outward from the treated unit's place in the
## data sorted by distance (ties in distance sorted in data order), one step to the left, then
## one to the right, and so on.
nn_hand <- function(ps, tr, ratio = 1, replace = FALSE, caliper = NULL) {
  cal <- if (is.null(caliper)) Inf else caliper * sd(ps)
  t_idx <- which(tr == 1); c_idx <- which(tr == 0)
  pos <- integer(length(ps)); pos[order(ps)] <- seq_along(ps)
  ord <- if (replace) seq_along(t_idx) else order(ps[t_idx], decreasing = TRUE)
  mm <- matrix(NA_integer_, length(t_idx), ratio)
  avail <- rep(TRUE, length(tr)); t_ok <- rep(TRUE, length(t_idx))
  rank_controls <- function(i, cand) {
    dd <- abs(ps[cand] - ps[t_idx[i]])
    k <- pos[cand] - pos[t_idx[i]]
    step <- ifelse(k < 0, 2 * (-k) - 1, 2 * k)
    o <- order(dd, step)
    list(cand = cand[o], dd = dd[o])
  }
  if (replace) {
    for (i in ord) {
      rk <- rank_controls(i, c_idx); ok <- rk$dd <= cal
      got <- rk$cand[ok][seq_len(min(ratio, sum(ok)))]
      if (length(got)) mm[i, seq_along(got)] <- got
    }
  } else {
    for (r in seq_len(ratio)) for (i in ord) {
      if (!t_ok[i]) next
      cand <- c_idx[avail[c_idx]]
      if (!length(cand)) break
      rk <- rank_controls(i, cand)
      if (rk$dd[1] > cal) { if (r == 1) t_ok[i] <- FALSE; next }
      mm[i, r] <- rk$cand[1]; avail[rk$cand[1]] <- FALSE
    }
  }
  mm
}
weights_hand <- function(mm, tr) {   # MatchIt's weights_matrixC, controls scaled to their count
  w <- numeric(length(tr)); t_idx <- which(tr == 1)
  for (i in seq_len(nrow(mm))) {
    ctl <- mm[i, !is.na(mm[i, ])]
    if (!length(ctl)) next
    w[t_idx[i]] <- 1
    w[ctl] <- w[ctl] + 1 / length(ctl)
  }
  c0 <- tr == 0
  w[c0] <- w[c0] * sum(w[c0] > 0) / sum(w[c0])
  w
}
m_cal <- matchit(f, data = d, method = "nearest", caliper = 0.01)
m_r1 <- matchit(f, data = d, method = "nearest")
m_r2r <- matchit(f, data = d, method = "nearest", ratio = 2, replace = TRUE)
mmr <- mm_rows(m_r1$match.matrix, tr)
ps0 <- unname(m_r1$distance)
out$matchit_defects <- list(
  caliper_ignored = identical(unname(m_cal$weights), unname(m_r1$weights)),
  same_control_twice = sum(m_r2r$match.matrix[, 1] == m_r2r$match.matrix[, 2]),
  # treated unit 10 (ps 0.0429): MatchIt's control and an unused control nearer to it
  unit10 = list(matchit_gap = abs(ps0[mmr[10, 1]] - ps0[10]),
                nearest_gap = min(abs(ps0[tr == 0] - ps0[10]))))
ps_m <- mi_r1$distance
lin_m <- unname(predict(glm(f, data = d, family = binomial())))   # link = "linear.logit"
cases <- list(r1 = list(1, FALSE, NULL), r2 = list(2, FALSE, NULL),
              r1_replace = list(1, TRUE, NULL), r2_replace = list(2, TRUE, NULL),
              r1_caliper = list(1, FALSE, 0.1), r2_caliper = list(2, FALSE, 0.2),
              r1_replace_caliper = list(1, TRUE, 0.05), r2_caliper_tight = list(2, FALSE, 0.02),
              r1_linear = list(1, FALSE, NULL), r1_linear_caliper = list(1, FALSE, 0.1))
out$match <- list()
for (k in names(cases)) {
  a <- cases[[k]]
  dist <- if (grepl("linear", k)) lin_m else ps_m
  mm <- nn_hand(dist, tr, a[[1]], a[[2]], a[[3]])
  w <- weights_hand(mm, tr)
  res <- list(match_matrix = mm, weights = w, distance = dist,
              n_matched_treated = sum(w[tr == 1] > 0), n_matched_control = sum(w[tr == 0] > 0))
  if (!a[[2]]) {   # pairs: lm with weights, sandwich::vcovCL clustered on the matched set
    sub <- rep(NA_integer_, length(tr)); t_idx <- which(tr == 1)
    for (i in seq_len(nrow(mm))) if (any(!is.na(mm[i, ]))) {
      sub[c(t_idx[i], mm[i, !is.na(mm[i, ])])] <- i }
    md <- d; md$weights <- w; md$subclass <- sub; md <- md[w > 0, ]
    fits <- list(diff = lm(re78 ~ treat, data = md, weights = weights),
                 dr = lm(fdr, data = md, weights = weights))
    res$subclass <- sub
    res$effect <- lapply(fits, function(fm) {
      V <- vcovCL(fm, cluster = md$subclass)   # = cluster = ~subclass, type "HC1"
      se <- sqrt(V["treat", "treat"]); est <- coef(fm)[["treat"]]; dfr <- fm$df.residual
      list(estimate = est, se = se, df = dfr, p_value = 2 * pt(-abs(est / se), dfr),
           ci_low = est - qt(0.975, dfr) * se, ci_high = est + qt(0.975, dfr) * se)
    })
  }
  out$match[[k]] <- res
}

## attrition weights: inverse probability of being observed (glm), on a made-up observed flag
d$observed <- as.integer((seq_len(n) * 7) %% 10 < 8 | d$re75 > 5000)
fo <- glm(observed ~ age + educ + married + re75, data = d, family = binomial())
po <- unname(fitted(fo))
out$attrition <- list(p = po, weights = ifelse(d$observed == 1, 1 / po, 0),
                      observed = d$observed)

## Rubin's rules with Barnard-Rubin df: mice::pool.scalar
set.seed(13)
pools <- list()
for (case in 1:4) {
  m <- c(5, 20, 3, 10)[case]
  Q <- rnorm(m, 1, c(0.1, 0.3, 0.02, 0.5)[case])
  U <- rexp(m, 1 / c(0.01, 0.02, 0.05, 0.03)[case])
  dfc <- c(Inf, 50, 10, 200)[case]
  p <- pool.scalar(Q, U, n = dfc + 1, k = 1)
  pools[[case]] <- list(Q = Q, se = sqrt(U), df_complete = if (is.finite(dfc)) dfc else NULL,
                        estimate = p$qbar, ubar = p$ubar, b = p$b, t = p$t, df = p$df,
                        r = p$r, fmi = p$fmi,
                        ci_low = p$qbar - qt(0.975, p$df) * sqrt(p$t),
                        ci_high = p$qbar + qt(0.975, p$df) * sqrt(p$t))
}
out$pool <- pools
# mice::pool on a mira (lm on imputed nhanes), to pin the pool() convention to pool.scalar
imp <- mice(nhanes, m = 5, seed = 1, printFlag = FALSE)
fitm <- with(imp, lm(chl ~ bmi))
pm <- summary(pool(fitm), conf.int = TRUE)
est <- sapply(fitm$analyses, function(a) coef(a)[["bmi"]])
ses <- sapply(fitm$analyses, function(a) sqrt(vcov(a)["bmi", "bmi"]))
pr <- pool(fitm)$pooled
out$pool_mira <- list(Q = est, se = ses, df_complete = fitm$analyses[[1]]$df.residual,
                      estimate = pm$estimate[2], std_error = pm$std.error[2], df = pm$df[2],
                      ci_low = pm[2, "2.5 %"], ci_high = pm[2, "97.5 %"], fmi = pr$fmi[2],
                      p_value = pm$p.value[2])

writeLines(toJSON(out, auto_unbox = TRUE, digits = NA, null = "null", na = "null", pretty = FALSE),
           "tests/reference/weighting_reference.json")
cat("written\n")
