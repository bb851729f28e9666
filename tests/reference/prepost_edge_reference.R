# Reference values for tests/test_prepost_edge.py: the pre-post and comparison-group
# estimators on tiny and degenerate data (issue 9).
#
# Run from the repository root (/work/main):
#   Rscript tests/reference/prepost_edge_reference.R 2>/dev/null > tests/reference/prepost_edge_reference.txt
#
# Output: `name value` lines under `[section]` headers, numbers printed with %.12g; NA and NaN
# are both printed as NaN. R warnings ("requested conf.level not achievable", ties) go to
# stderr and are discarded by the command above; where a warning matters it is recorded as a
# 0/1 value (`warned_*`).

suppressPackageStartupMessages({
  library(estimatr)
  library(sandwich)
  library(metafor)
})

out <- function(name, value) {
  v <- if (length(value) == 0 || is.na(value)) "NaN" else sprintf("%.12g", value)
  cat(name, " ", v, "\n", sep = "")
}
section <- function(name) cat("[", name, "]\n", sep = "")
# a wilcox.test result: its p-value, estimate, interval and the interval's stated level
out_test <- function(w) {
  out("p_value", w$p.value)
  out("estimate", w$estimate)
  out("ci_low", w$conf.int[1])
  out("ci_high", w$conf.int[2])
  out("conf_level", attr(w$conf.int, "conf.level"))
}
warned <- function(expr) {
  w <- FALSE
  val <- withCallingHandlers(expr, warning = function(cond) {
    if (grepl("conf.level not achievable", conditionMessage(cond))) w <<- TRUE
    invokeRestart("muffleWarning")
  })
  list(value = val, warned = w)
}

cat("R_version_string ", R.version.string, "\n", sep = "")
for (p in c("stats", "estimatr", "sandwich", "metafor")) {
  cat("package_", p, " ", as.character(packageVersion(p)), "\n", sep = "")
}

# =========================================================================================
# 1. Exact signed-rank intervals with n = 1..6 non-zero changes (no ties, no zeros).
#    The changes are post - pre with pre = 10 for everyone, so wilcox.test(post, pre,
#    paired = TRUE) works on d. R's exact interval takes Walsh averages qu and ql + 1 with
#    qu = qsignrank(alpha / 2, n) (raised to 1 when it is 0); its achieved error rate is
#    achieved.alpha = 2 * psignrank(qu - 1, n). When achieved.alpha - alpha > alpha / 2, R warns
#    "requested conf.level not achievable" and labels the interval 1 - signif(achieved.alpha, 2).
#    `achieved_alpha` recomputes R's achieved.alpha (the code is not exported).
# =========================================================================================
d_all <- c(1.5, -0.5, 2.5, 3.5, 0.7, -2.25)
for (n in 1:6) {
  d <- d_all[1:n]
  pre <- rep(10, n)
  post <- pre + d
  r <- warned(wilcox.test(post, pre, paired = TRUE, conf.int = TRUE))
  w <- r$value
  section(paste0("signed_rank_n", n))
  out("V", w$statistic)
  out_test(w)
  qu <- qsignrank(0.025, n)
  if (qu == 0) qu <- 1
  out("achieved_alpha", 2 * psignrank(trunc(qu) - 1, n))
  out("warned_not_achievable", as.numeric(r$warned))
}
# one-sided exact intervals, n = 2..4: achieved.alpha = psignrank(qu - 1, n), qu = qsignrank(alpha, n)
for (alt in c("greater", "less")) {
  for (n in 2:4) {
    d <- d_all[1:n]
    w <- warned(wilcox.test(d, conf.int = TRUE, alternative = alt))$value
    section(paste0("signed_rank_", alt, "_n", n))
    out_test(w)
    qu <- qsignrank(0.05, n)
    if (qu == 0) qu <- 1
    out("achieved_alpha", psignrank(trunc(qu) - 1, n))
  }
}

# =========================================================================================
# 2. Signed rank in the normal approximation (ties or zeros) with few changes: R widens alpha
#    (doubling it) until the interval exists and labels it 1 - alpha; when every change is the
#    same, W(mu) cannot be computed and R returns a NaN interval at conf.level 0 and the
#    "midrange" as estimate; when alpha reaches 1, R returns median(d) twice at conf.level 0.
# =========================================================================================
approx_cases <- list(ties4 = c(1, 1, 2, 3), ties_neg = c(-1, 1, 2, 2), zero4 = c(0, 1, 2, 3),
                     ties5 = c(1, 2, 2, 3, 3), all_same = c(2, 2, 2), zero_one = c(0, 3),
                     ties3 = c(1, 1, 2))
for (nm in names(approx_cases)) {
  d <- approx_cases[[nm]]
  w <- warned(wilcox.test(d, conf.int = TRUE))$value
  section(paste0("signed_rank_approx_", nm))
  out("V", w$statistic)
  out_test(w)
}

# one-sided intervals in the normal approximation. R's "less" branch decides whether to widen
# alpha by testing qnorm(alpha / 2), its "greater" branch qnorm(alpha): "less" can settle on a
# lower level than the mirror image under "greater" (oneside_a below: 80% against 90%)
oneside_cases <- list(a = list(d = c(1, 2, 0.5, 2, 0.5), correct = FALSE, level = 0.95),
                      b = list(d = c(-1.808, 2.521, -0.601), correct = TRUE, level = 0.9),
                      c = list(d = c(1, 1, 2, 3), correct = TRUE, level = 0.95),
                      d = list(d = c(-3, 0.5, 1, 1, 2, 4, 4.5), correct = TRUE, level = 0.95))
for (nm in names(oneside_cases)) {
  cs <- oneside_cases[[nm]]
  for (alt in c("greater", "less")) {
    w <- warned(wilcox.test(cs$d, conf.int = TRUE, alternative = alt, exact = FALSE,
                            correct = cs$correct, conf.level = cs$level))$value
    section(paste0("signed_rank_oneside_", nm, "_", alt))
    out("V", w$statistic)
    out_test(w)
  }
}

# =========================================================================================
# 3. Paired t-test with 2 pairs (defined: 1 df), Hedges' g_av with 2 and 3 pairs.
#    metafor's escalc("SMCR") uses the correction .cmicalc(n - 1), which is NA for n - 1 <= 1:
#    with 2 pairs g_av is NA. The standardizer is the mean of the pre and post SDs (as evalkit).
#    t.test stops with "data are essentially constant" when every pair changes by the same
#    amount up to rounding (se < 10 * .Machine$double.eps * |mean|).
# =========================================================================================
section("paired_n2")
pre2 <- c(1, 2); post2 <- c(2, 5)
tt <- t.test(post2, pre2, paired = TRUE)
out("t", tt$statistic); out("df", tt$parameter); out("p_value", tt$p.value)
out("ci_low", tt$conf.int[1]); out("ci_high", tt$conf.int[2])
es <- escalc("SMCR", m1i = mean(post2), m2i = mean(pre2), sd1i = (sd(pre2) + sd(post2)) / 2,
             ni = 2, ri = cor(pre2, post2))
out("g_av", es$yi); out("g_av_var", es$vi)
section("paired_n3")
pre3 <- c(1, 2, 4); post3 <- c(2, 5, 6)
tt <- t.test(post3, pre3, paired = TRUE)
out("t", tt$statistic); out("p_value", tt$p.value)
out("ci_low", tt$conf.int[1]); out("ci_high", tt$conf.int[2])
es <- escalc("SMCR", m1i = mean(post3), m2i = mean(pre3), sd1i = (sd(pre3) + sd(post3)) / 2,
             ni = 3, ri = cor(pre3, post3))
out("g_av", es$yi)
out("g_av_ci_low", es$yi - qnorm(0.975) * sqrt(es$vi))
out("g_av_ci_high", es$yi + qnorm(0.975) * sqrt(es$vi))
section("paired_constant")
# post - pre is 0.1 for everyone, up to floating-point rounding
r <- try(t.test(c(0.3, 1.3, 2.3), c(0.2, 1.2, 2.2), paired = TRUE), silent = TRUE)
out("t_test_error_essentially_constant",
    as.numeric(inherits(r, "try-error") && grepl("essentially constant", r)))

# =========================================================================================
# 4. ANCOVA post ~ group + pre with few clusters (CR1 = se_type "stata", df = G - 1), and HC2
#    when one observation has leverage 1. estimatr gives that observation's coefficient a
#    finite SE (it drops the 0/0 term, so the SE ignores that youth's variance); sandwich's
#    vcovHC(type = "HC2") gives NaN. evalkit returns NaN for the coefficients the observation
#    determines, and estimatr's SE for the others.
# =========================================================================================
small <- data.frame(
  pre  = c(10, 12, 9, 14, 11, 13, 8, 15, 12, 10),
  post = c(12, 15, 9, 17, 10, 16, 9, 18, 15, 11),
  group = c(0, 0, 0, 0, 0, 1, 1, 1, 1, 1),
  cl2 = c("a", "b", "a", "b", "a", "b", "a", "b", "a", "b"),
  cl3 = c("a", "b", "c", "a", "b", "c", "a", "b", "c", "a")
)
small$change <- small$post - small$pre
for (cl in c("cl2", "cl3")) {
  f <- lm_robust(post ~ group + pre, data = small, clusters = small[[cl]], se_type = "stata")
  fc <- lm_robust(change ~ group, data = small, clusters = small[[cl]], se_type = "stata")
  section(paste0("ancova_", cl))
  out("estimate", coef(f)[["group"]]); out("se", f$std.error[["group"]])
  out("ci_low", f$conf.low[["group"]]); out("ci_high", f$conf.high[["group"]])
  out("p_value", f$p.value[["group"]]); out("df", f$df[["group"]])
  out("change_diff", coef(fc)[["group"]]); out("change_diff_se", fc$std.error[["group"]])
}
section("ancova_hc2")
f <- lm_robust(post ~ group + pre, data = small, se_type = "HC2")
out("estimate", coef(f)[["group"]]); out("se", f$std.error[["group"]])
out("ci_low", f$conf.low[["group"]]); out("ci_high", f$conf.high[["group"]])
out("p_value", f$p.value[["group"]]); out("df", f$df[["group"]])

lev <- data.frame(y = c(1, 2, 3, 4, 5, 9), g = c(0, 0, 0, 0, 0, 1), x = c(3, 1, 4, 1, 5, 9))
f <- lm_robust(y ~ g + x, data = lev, se_type = "HC2")
m <- lm(y ~ g + x, data = lev)
v <- suppressWarnings(vcovHC(m, type = "HC2"))
section("hc2_leverage_one")
out("hat_6", hatvalues(m)[[6]])
out("estimate_g", coef(f)[["g"]])
out("estimatr_se_intercept", f$std.error[["(Intercept)"]])
out("estimatr_se_g", f$std.error[["g"]])
out("estimatr_se_x", f$std.error[["x"]])
out("sandwich_se_g", sqrt(v[2, 2]))
out("sandwich_se_x", sqrt(v[3, 3]))

section("ancova_constant_post")
cp <- small; cp$post <- 5
f <- lm_robust(post ~ group + pre, data = cp, se_type = "HC2")
out("estimate", coef(f)[["group"]]); out("se", f$std.error[["group"]])

# =========================================================================================
# 5. McNemar with no discordant pair: R's statistic and p-value are NaN / NA.
#    Meta-analysis of identical effects with Hartung-Knapp: metafor's SE is 0 (a zero-width
#    interval), which evalkit refuses to show as exact.
# =========================================================================================
section("mcnemar_no_change")
mt <- mcnemar.test(matrix(c(3, 0, 0, 4), 2))
out("statistic", mt$statistic); out("p_value", mt$p.value)
section("meta_identical_knha")
fit <- rma(c(0.3, 0.3, 0.3), c(0.01, 0.02, 0.03), method = "REML", test = "knha")
out("estimate", fit$b[1]); out("se", fit$se); out("ci_low", fit$ci.lb); out("ci_high", fit$ci.ub)
out("tau2", fit$tau2)
fit <- rma(c(0.3, 0.3, 0.3), c(0.01, 0.02, 0.03), method = "REML")
section("meta_identical_z")
out("estimate", fit$b[1]); out("se", fit$se); out("ci_low", fit$ci.lb); out("ci_high", fit$ci.ub)
out("p_value", fit$pval)
