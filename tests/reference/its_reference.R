# Reference values for evalkit.methods.policy.its (interrupted time series, segmented regression).
#
# Run from the repository root:  Rscript tests/reference/its_reference.R
# Writes tests/reference/its_data.csv (seeded synthetic monthly series) and
# tests/reference/its_reference.csv (coefficients, SEs, statistics, p-values, CIs, ACF and
# Ljung-Box of the residuals), read by tests/test_policy_its.py.
#
# Sources: R stats::glm (poisson, quasipoisson; offset), summary.glm, confint.default, lm,
# confint.lm, acf, Box.test(type = "Ljung-Box"); sandwich::NeweyWest(lag = 3, prewhite = FALSE)
# with lmtest::coeftest / lmtest::coefci (t with the residual df, lmtest's default for lm).
# Harmonic terms are written out as tsModel::harmonic(x, nfreq, period) builds them:
#   k <- seq(1, nfreq) * 2 * pi / period; cbind(sin(outer(x, k)), cos(outer(x, k)))
# with x the 0-based period index (sine columns first, then cosine columns).
# The Sicily data (its_sicily.csv) are those of Lopez Bernal, Cummins & Gasparrini (2017),
# github.com/gasparrini/2017_lopezbernal_IJE_codedata (commit 85456263850d03ae39439e032929347c40ff3a26).
suppressPackageStartupMessages({library(sandwich); library(lmtest)})
dir <- "tests/reference"

harmonic <- function(x, nfreq, period) {
  k <- seq(1, nfreq) * 2 * pi / period
  M <- outer(as.numeric(x), k)
  H <- cbind(sin(M), cos(M))
  colnames(H) <- c(paste0("sin", seq_len(nfreq)), paste0("cos", seq_len(nfreq)))
  H
}

# -- the synthetic series: 72 months, intervention at month 37 (January 2018) ----------------
set.seed(20240514)
n <- 72; t <- 0:(n - 1); t0 <- 36
level <- as.numeric(t >= t0); slope <- (t - t0) * level
pop <- round(250000 * (1 + 0.001 * t))
eta <- log(pop) + log(40 / 1e5) + 0.004 * t - 0.15 * level - 0.01 * slope +
  0.20 * sin(2 * pi * t / 12) + 0.10 * cos(2 * pi * t / 12) + 0.05 * sin(4 * pi * t / 12)
count <- rnbinom(n, size = 60, mu = exp(eta))
e <- as.numeric(arima.sim(list(ar = 0.5), n = n, sd = 2))
y <- 50 + 0.3 * t + 5 * level - 0.4 * slope + 3 * sin(2 * pi * t / 12) + e
month <- format(seq(as.Date("2015-01-01"), by = "month", length.out = n))
dat <- data.frame(month = month, t = t, count = count, pop = pop, log_pop = log(pop),
                  y = round(y, 4))
write.csv(dat, file.path(dir, "its_data.csv"), row.names = FALSE)
dat <- read.csv(file.path(dir, "its_data.csv"))

out <- list()
add <- function(model, tab) {
  tab <- data.frame(model = model, term = rownames(tab), tab, row.names = NULL)
  names(tab) <- c("model", "term", "estimate", "se", "statistic", "p_value", "ci_low", "ci_high")
  out[[length(out) + 1]] <<- tab
}
extra <- function(model, term, value) {
  out[[length(out) + 1]] <<- data.frame(model = model, term = term, estimate = value, se = NA,
                                        statistic = NA, p_value = NA, ci_low = NA, ci_high = NA)
}
acf_lb <- function(model, r, lags, lb_lag) {
  a <- acf(r, lag.max = lags, plot = FALSE)$acf[-1]
  extra(paste0(model, "_acf"), as.character(seq_len(lags)), a)
  b <- Box.test(r, lag = lb_lag, type = "Ljung-Box")
  extra(paste0(model, "_ljungbox"), c("statistic", "df", "p_value"),
        c(b$statistic, b$parameter, b$p.value))
}

d <- data.frame(dat, level = level, slope = slope, trend = t)
H2 <- harmonic(t, 2, 12); H1 <- harmonic(t, 1, 12)
d <- cbind(d, H2)
fml2 <- count ~ trend + level + slope + sin1 + sin2 + cos1 + cos2 + offset(log_pop)

# A: poisson, offset, 2 harmonics; Wald z (summary.glm, confint.default)
fa <- glm(fml2, family = poisson, data = d, control = glm.control(epsilon = 1e-14, maxit = 100))
add("poisson", cbind(summary(fa)$coefficients, confint.default(fa)))
extra("poisson_fit", c("pearson_dispersion", "df_residual"),
      c(sum(residuals(fa, "pearson")^2) / fa$df.residual, fa$df.residual))

# B: quasipoisson; t with the residual df (summary.glm), CI est +- qt * se (lmtest::coefci, df)
fb <- glm(fml2, family = quasipoisson, data = d, control = glm.control(epsilon = 1e-14, maxit = 100))
add("quasipoisson", cbind(summary(fb)$coefficients, coefci(fb, df = fb$df.residual)))
extra("quasipoisson_fit", c("dispersion", "df_residual"), c(summary(fb)$dispersion, fb$df.residual))
fitted_b <- fitted(fb)
cf <- d; cf$level <- 0; cf$slope <- 0
extra("quasipoisson_fitted", as.character(t), fitted_b)
extra("quasipoisson_counterfactual", as.character(t), predict(fb, newdata = cf, type = "response"))
acf_lb("quasipoisson_deviance", residuals(fb, type = "deviance"), 18, 10)

# C: lm, 1 harmonic; t with the residual df (summary.lm, confint.lm)
fc <- lm(y ~ trend + level + slope + sin1 + cos1, data = d)
add("lm", cbind(summary(fc)$coefficients, confint(fc)))
acf_lb("lm_residual", residuals(fc), 18, 10)

# D: lm with Newey-West (lag 3, no prewhitening, adjust = FALSE); coeftest / coefci default df
V <- NeweyWest(fc, lag = 3, prewhite = FALSE)
add("lm_neweywest3", cbind(unclass(coeftest(fc, vcov. = V))[, 1:4], coefci(fc, vcov. = V)))

# E: lm, level change only, no harmonics
fe <- lm(y ~ trend + level, data = d)
add("lm_level_only", cbind(summary(fe)$coefficients, confint(fe)))

# F: placebo: quasipoisson on the 36 pre-intervention months with a placebo at month 19 (t = 18)
p <- d[d$t < t0, ]
p$level <- as.numeric(p$t >= 18); p$slope <- (p$t - 18) * p$level
fp <- glm(fml2, family = quasipoisson, data = p, control = glm.control(epsilon = 1e-14, maxit = 100))
add("placebo_quasipoisson", cbind(summary(fp)$coefficients, coefci(fp, df = fp$df.residual)))

# G: Sicily (Lopez Bernal et al. 2017, model3): quasipoisson, offset log(stdpop), level change
# only, harmonic(month, 2, 12); here the harmonics are of the 0-based index (time - 1), which
# spans the same functions, so the level and trend coefficients are unchanged.
s <- read.csv(file.path(dir, "its_sicily.csv"))
Hs <- harmonic(s$time - 1, 2, 12)
fg <- glm(aces ~ offset(log(stdpop)) + smokban + time + Hs, family = quasipoisson, data = s,
          control = glm.control(epsilon = 1e-14, maxit = 100))
add("sicily_quasipoisson", cbind(summary(fg)$coefficients, coefci(fg, df = fg$df.residual)))
fg0 <- glm(aces ~ offset(log(stdpop)) + smokban + time + harmonic(month, 2, 12),
           family = quasipoisson, data = s)
extra("sicily_month_harmonics", c("smokban", "time"), coef(fg0)[c("smokban", "time")])

res <- do.call(rbind, out)
con <- file(file.path(dir, "its_reference.csv"), "w")
writeLines(paste0("# ", R.version.string, "; sandwich ", packageVersion("sandwich"),
                  "; lmtest ", packageVersion("lmtest"), "; written by its_reference.R"), con)
write.csv(format(res, digits = 17), con, row.names = FALSE, quote = FALSE)
close(con)
