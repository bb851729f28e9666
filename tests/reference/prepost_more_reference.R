# Reference values for the pre/post (paired) tests: Wilcoxon signed-rank, McNemar, Newcombe's
# paired-proportion interval, and robust-SE ANCOVA / change-score regressions.
#
# Run from the repository root (/work/main):
#   Rscript tests/reference/prepost_more_reference.R 2>/dev/null > tests/reference/prepost_more_reference.txt
#
# Output format: one `name value` pair per line, grouped under `[section]` headers.
# Numbers are printed with sprintf("%.12g"). R warnings (ties, "cannot compute exact p-value")
# go to stderr and are discarded by the command above.

suppressPackageStartupMessages({
  library(sandwich)
  library(clubSandwich)
  library(estimatr)
})

# ---- small printing helpers -------------------------------------------------------------
out <- function(name, value) cat(name, " ", sprintf("%.12g", value), "\n", sep = "")
section <- function(name) cat("[", name, "]\n", sep = "")

# ---- versions ---------------------------------------------------------------------------
cat("R_version ", R.version$major, ".", R.version$minor, "\n", sep = "")
cat("R_version_string ", R.version.string, "\n", sep = "")
for (p in c("stats", "sandwich", "clubSandwich", "estimatr")) {
  cat("package_", p, " ", as.character(packageVersion(p)), "\n", sep = "")
}

# ---- data -------------------------------------------------------------------------------
small  <- read.csv("tests/reference/paired_small.csv")   # 12 pairs, no ties, no zero diffs
ties   <- read.csv("tests/reference/paired_ties.csv")    # 40 integer pairs, ties and zeros
binary <- read.csv("tests/reference/paired_binary.csv")  # 150 pairs of 0/1
groups <- read.csv("tests/reference/groups.csv")         # 240 rows, 12 sites
sleep  <- read.csv("tests/reference/sleep.csv")          # datasets::sleep, wide

# =========================================================================================
# 1. Wilcoxon signed-rank, exact path (n = 12, no ties, no zeros).
#    wilcox.test(post, pre, paired = TRUE) works on d = post - pre. V = sum of the ranks of
#    |d| over the positive d. With no ties/zeros and n < 50 R uses the exact null distribution
#    (psignrank); the CI is the exact Walsh-average interval (qsignrank) and the estimate is the
#    median of the n(n+1)/2 Walsh averages (Hodges-Lehmann pseudo-median).
# =========================================================================================
section("signed_rank_small")
w <- wilcox.test(small$post, small$pre, paired = TRUE, conf.int = TRUE)
out("V", w$statistic)
out("p_value", w$p.value)
out("estimate", w$estimate)
out("ci_low", w$conf.int[1])
out("ci_high", w$conf.int[2])
# One-sided exact p-values (H1: location of post - pre > 0, resp. < 0).
out("p_value_greater", wilcox.test(small$post, small$pre, paired = TRUE, alternative = "greater")$p.value)
out("p_value_less", wilcox.test(small$post, small$pre, paired = TRUE, alternative = "less")$p.value)

# =========================================================================================
# 2a. Signed-rank with ties and zero differences -> R switches to the normal approximation.
#     Zero differences are DROPPED (Wilcoxon's convention) before ranking, for the test AND for
#     the CI/estimate; tied |d| get mid-ranks and the variance gets the tie correction
#     sum(t^3 - t)/48. correct = TRUE subtracts 0.5*sign(z) from V - n(n+1)/4.
#     The CI and the "estimate" are NOT Walsh averages here: R inverts the (corrected)
#     standardized statistic as a function of the shift mu with uniroot() (default
#     tol.root = 1e-4), and the estimate is the root for z = 0. Because uniroot's tolerance is
#     1e-4, the default-output CI/estimate are only accurate to ~1e-4; the *_tight values re-run
#     the identical computation with tol.root = 1e-12 and locate the same roots precisely.
# =========================================================================================
section("signed_rank_ties")
d_ties <- ties$post - ties$pre
w <- wilcox.test(ties$post, ties$pre, paired = TRUE, conf.int = TRUE)
out("V", w$statistic)
out("p_value", w$p.value)
out("estimate", w$estimate)
out("ci_low", w$conf.int[1])
out("ci_high", w$conf.int[2])
out("n_zero", sum(d_ties == 0))
out("n_nonzero", sum(d_ties != 0))
wt <- wilcox.test(ties$post, ties$pre, paired = TRUE, conf.int = TRUE, tol.root = 1e-12)
out("estimate_tight", wt$estimate)
out("ci_low_tight", wt$conf.int[1])
out("ci_high_tight", wt$conf.int[2])
# Same without the continuity correction (affects p-value, CI and estimate).
w <- wilcox.test(ties$post, ties$pre, paired = TRUE, conf.int = TRUE, correct = FALSE)
out("p_value_nocorrect", w$p.value)
out("estimate_nocorrect", w$estimate)
out("ci_low_nocorrect", w$conf.int[1])
out("ci_high_nocorrect", w$conf.int[2])
wt <- wilcox.test(ties$post, ties$pre, paired = TRUE, conf.int = TRUE, correct = FALSE, tol.root = 1e-12)
out("estimate_nocorrect_tight", wt$estimate)
out("ci_low_nocorrect_tight", wt$conf.int[1])
out("ci_high_nocorrect_tight", wt$conf.int[2])

# 2b. The no-ties data forced onto the normal-approximation path (exact = FALSE, continuity
#     correction on by default). Same uniroot caveat as above; *_tight uses tol.root = 1e-12.
section("signed_rank_small_approx")
w <- wilcox.test(small$post, small$pre, paired = TRUE, conf.int = TRUE, exact = FALSE)
out("V", w$statistic)
out("p_value", w$p.value)
out("estimate", w$estimate)
out("ci_low", w$conf.int[1])
out("ci_high", w$conf.int[2])
wt <- wilcox.test(small$post, small$pre, paired = TRUE, conf.int = TRUE, exact = FALSE, tol.root = 1e-12)
out("estimate_tight", wt$estimate)
out("ci_low_tight", wt$conf.int[1])
out("ci_high_tight", wt$conf.int[2])

# =========================================================================================
# 3. Student's sleep data: d = drug1 - drug2 has one zero (patient 5) and one tie (two -1.3),
#    so the normal approximation with continuity correction is used; all nonzero d < 0, so V = 0.
#    R's own ?wilcox.test example prints V = 0, p-value = 0.009091.
# =========================================================================================
section("signed_rank_sleep")
w <- wilcox.test(sleep$extra_drug1, sleep$extra_drug2, paired = TRUE)
out("V", w$statistic)
out("p_value", w$p.value)
out("n_zero", sum(sleep$extra_drug1 - sleep$extra_drug2 == 0))
out("check_published_V0_p_0_009091", as.numeric(w$statistic == 0 && round(w$p.value, 6) == 0.009091))

# =========================================================================================
# 4. Hollander & Wolfe (1973, p. 29) depression data, the example in R's ?wilcox.test
#    (x = first visit, y = second visit). n = 9, no ties -> exact path.
#    R documents V = 40, p-value = 0.01953 for the one-sided test.
# =========================================================================================
section("hollander_wolfe")
x <- c(1.83, 0.50, 1.62, 2.48, 1.68, 1.88, 1.55, 3.06, 1.30)
y <- c(0.878, 0.647, 0.598, 2.05, 1.06, 1.29, 1.06, 3.14, 1.29)
w <- wilcox.test(x, y, paired = TRUE, alternative = "greater")
out("V", w$statistic)
out("p_value_greater", w$p.value)
out("check_published_V40_p_0_01953", as.numeric(w$statistic == 40 && round(w$p.value, 5) == 0.01953))
w <- wilcox.test(x, y, paired = TRUE, conf.int = TRUE)
out("p_value", w$p.value)
out("estimate", w$estimate)
out("ci_low", w$conf.int[1])
out("ci_high", w$conf.int[2])

# =========================================================================================
# 5. McNemar on paired_binary.csv. Table rows = pre, cols = post, level order 1 then 0:
#       tab[1,1] = pre 1 & post 1, tab[1,2] = pre 1 & post 0 (b),
#       tab[2,1] = pre 0 & post 1 (c), tab[2,2] = pre 0 & post 0.
#    mcnemar.test: X2 = (|b - c| - 1)^2 / (b + c) (correct = TRUE) or (b - c)^2 / (b + c), df 1.
#    Exact McNemar: two-sided binomial test of b out of b + c with p = 1/2 (binom.test).
# =========================================================================================
section("mcnemar_binary")
tab <- table(factor(binary$pre, levels = c(1, 0)), factor(binary$post, levels = c(1, 0)))
b <- tab[1, 2]; c_ <- tab[2, 1]
out("n11_pre1_post1", tab[1, 1])
out("b_pre1_post0", b)
out("c_pre0_post1", c_)
out("n22_pre0_post0", tab[2, 2])
m <- mcnemar.test(tab)
out("statistic", m$statistic)
out("p_value", m$p.value)
m <- mcnemar.test(tab, correct = FALSE)
out("statistic_nocorrect", m$statistic)
out("p_value_nocorrect", m$p.value)
out("p_value_exact", binom.test(c(b, c_))$p.value)

# Agresti (1990, p. 350) presidential approval ratings, 1600 people surveyed twice; this is
# the "Performance" example in R's ?mcnemar.test. Discordant cells 150 and 86.
# Expected: with continuity correction X2 = 63^2/236 = 16.818, p = 4.115e-05 (R's example
# output); without correction X2 = 64^2/236 = 17.356 (Agresti's z^2).
section("mcnemar_agresti")
perf <- matrix(c(794, 86, 150, 570), nrow = 2,
               dimnames = list("1st Survey" = c("Approve", "Disapprove"),
                               "2nd Survey" = c("Approve", "Disapprove")))
m <- mcnemar.test(perf)
out("statistic", m$statistic)
out("p_value", m$p.value)
m <- mcnemar.test(perf, correct = FALSE)
out("statistic_nocorrect", m$statistic)
out("p_value_nocorrect", m$p.value)
out("p_value_exact", binom.test(c(perf[1, 2], perf[2, 1]))$p.value)

# =========================================================================================
# 6. Newcombe (1998), "Improved confidence intervals for the difference between binomial
#    proportions based on paired data", Stat Med 17:2635-2650, method 10 (score / "square-and-
#    add" interval built from the two Wilson score intervals, no continuity correction on the
#    Wilson limits -- method 11 is the version with continuity-corrected Wilson limits).
#
#    No Debian package ships it (apt-cache search finds no r-cran-exact2x2, -propcis,
#    -desctools, -contingencytables, -ratesci, -mkinfer), so it is written out in base R here.
#
#    Table (Newcombe's notation): A = both 1, B = first 1 & second 0, C = first 0 & second 1,
#    D = both 0, n = A+B+C+D; p1 = (A+B)/n, p2 = (A+C)/n, theta = p1 - p2 = (B - C)/n.
#    (l1,u1), (l2,u2) = Wilson 95% score limits for p1 and p2.
#       delta   = sqrt((p1-l1)^2 - 2 phi (p1-l1)(u2-p2) + (u2-p2)^2),  L = theta - delta
#       epsilon = sqrt((u1-p1)^2 - 2 phi (u1-p1)(p2-l2) + (p2-l2)^2),  U = theta + epsilon
#
#    phi: IMPORTANT. The published method-10 numbers are reproduced only when phi carries
#    Newcombe's continuity correction on the correlation:
#       phi = (AD - BC - n/2)/sqrt((A+B)(C+D)(A+C)(B+D))  if AD - BC > n/2
#           = 0                                             if 0 <= AD - BC <= n/2
#           = (AD - BC)/sqrt(...)                           if AD - BC < 0
#       (phi = 0 when a margin is empty.)
#    The plain phi = (AD - BC)/sqrt(...) does NOT reproduce the published values whenever
#    AD - BC > 0 (see the [newcombe_published] section). Both variants are printed:
#       ci_low / ci_high                       = method 10 as published (corrected phi)
#       ci_low_phi_uncorrected / ..._high_...  = same formula with the plain phi
#    The same corrected phi is used by contingencytables::Newcombe_square_and_add_CI_paired_2x2
#    (Fagerland, Lydersen & Laake 2017, ch. 8) and ratesci::pairbinci(method_RD = "MOVER_newc").
#    (MKinfer::binomDiffCI(paired = TRUE) calls the corrected-phi version "wilson-cc" and the
#    plain-phi version "wilson".)
# =========================================================================================
wilson <- function(x, n, z = qnorm(0.975)) {
  # Wilson (1927) score interval for a single proportion, no continuity correction.
  p <- x / n
  centre <- (2 * x + z^2) / (2 * (n + z^2))
  half <- z * sqrt(z^2 + 4 * x * (1 - p)) / (2 * (n + z^2))
  c(centre - half, centre + half)
}
newcombe_paired <- function(A, B, C, D, corrected_phi = TRUE, conf.level = 0.95) {
  n <- A + B + C + D
  z <- qnorm(1 - (1 - conf.level) / 2)
  p1 <- (A + B) / n; p2 <- (A + C) / n; theta <- p1 - p2
  w1 <- wilson(A + B, n, z); l1 <- w1[1]; u1 <- w1[2]
  w2 <- wilson(A + C, n, z); l2 <- w2[1]; u2 <- w2[2]
  denom <- (A + B) * (C + D) * (A + C) * (B + D)
  num <- A * D - B * C
  if (corrected_phi) num <- if (num > n / 2) num - n / 2 else if (num >= 0) 0 else num
  phi <- if (denom == 0) 0 else num / sqrt(denom)
  delta   <- sqrt((p1 - l1)^2 - 2 * phi * (p1 - l1) * (u2 - p2) + (u2 - p2)^2)
  epsilon <- sqrt((u1 - p1)^2 - 2 * phi * (u1 - p1) * (p2 - l2) + (p2 - l2)^2)
  list(theta = theta, lower = theta - delta, upper = theta + epsilon, phi = phi,
       p1 = p1, p2 = p2, l1 = l1, u1 = u1, l2 = l2, u2 = u2)
}

section("newcombe")
# Our data: difference prop_post - prop_pre, so "first" = post, "second" = pre:
#   A = post 1 & pre 1, B = post 1 & pre 0 (= c above), C = post 0 & pre 1 (= b above), D = both 0.
A <- tab[1, 1]; B <- tab[2, 1]; C <- tab[1, 2]; D <- tab[2, 2]
r  <- newcombe_paired(A, B, C, D, corrected_phi = TRUE)
ru <- newcombe_paired(A, B, C, D, corrected_phi = FALSE)
out("A_post1_pre1", A); out("B_post1_pre0", B); out("C_post0_pre1", C); out("D_post0_pre0", D)
out("prop_post", r$p1)
out("prop_pre", r$p2)
out("diff", r$theta)
out("wilson_post_low", r$l1); out("wilson_post_high", r$u1)
out("wilson_pre_low", r$l2);  out("wilson_pre_high", r$u2)
# Cross-check of the hand-written Wilson limits: prop.test(correct = FALSE)$conf.int is the
# Wilson score interval. Printed value = largest absolute difference over the four limits.
out("wilson_vs_prop_test_maxabsdiff",
    max(abs(c(r$l1, r$u1) - prop.test(A + B, A + B + C + D, correct = FALSE)$conf.int),
        abs(c(r$l2, r$u2) - prop.test(A + C, A + B + C + D, correct = FALSE)$conf.int)))
out("AD_minus_BC", A * D - B * C)
out("phi_corrected", r$phi)
out("phi_uncorrected", ru$phi)
out("ci_low", r$lower)
out("ci_high", r$upper)
out("ci_low_phi_uncorrected", ru$lower)
out("ci_high_phi_uncorrected", ru$upper)

# Newcombe's published examples: the method-10 rows of Table III of Newcombe (1998), tables
# (A, B, C, D) with published 95% limits to 4 decimals. The paper itself could not be
# retrieved here; the numbers are taken from two independent public transcriptions:
#  - GitHub breakoutwithai/jevnotjev, docs/decision/newcombe_check.py ("method-10 rows of
#    Table III in Newcombe (1998)"), all seven rows;
#  - GitHub petelaud/ratesci, tests/testthat/test3.R: "example from Newcombe ... against
#    Newcombe's method 10 result", pairbinci(c(20, 12, 2, 16)) -> (0.0562, 0.3292); the same
#    file gives (0.0618, 0.3242) for that table as Newcombe's result WITHOUT the phi correction.
# `match_*` = 1 when round(computed, 4) equals the published value.
section("newcombe_published")
pub <- rbind(
  c(36, 12, 2, 0,  0.0569, 0.3404),
  c(20, 12, 2, 16, 0.0562, 0.3292),
  c(18, 12, 2, 18, 0.0562, 0.3290),
  c(36, 14, 0, 0,  0.1528, 0.4167),
  c(35, 14, 0, 1,  0.1461, 0.4175),
  c(18, 14, 0, 18, 0.1441, 0.3963),
  c(2, 97, 1, 0,   0.8721, 0.9854))
n_match <- 0; n_match_u <- 0
for (i in seq_len(nrow(pub))) {
  e <- pub[i, ]
  tag <- sprintf("ex%d_%d_%d_%d_%d", i, e[1], e[2], e[3], e[4])
  r  <- newcombe_paired(e[1], e[2], e[3], e[4], corrected_phi = TRUE)
  ru <- newcombe_paired(e[1], e[2], e[3], e[4], corrected_phi = FALSE)
  ok  <- round(r$lower, 4) == e[5] && round(r$upper, 4) == e[6]
  oku <- round(ru$lower, 4) == e[5] && round(ru$upper, 4) == e[6]
  n_match <- n_match + ok; n_match_u <- n_match_u + oku
  out(paste0(tag, "_diff"), r$theta)
  out(paste0(tag, "_published_low"), e[5])
  out(paste0(tag, "_published_high"), e[6])
  out(paste0(tag, "_ci_low"), r$lower)
  out(paste0(tag, "_ci_high"), r$upper)
  out(paste0(tag, "_match"), as.numeric(ok))
  out(paste0(tag, "_ci_low_phi_uncorrected"), ru$lower)
  out(paste0(tag, "_ci_high_phi_uncorrected"), ru$upper)
  out(paste0(tag, "_match_phi_uncorrected"), as.numeric(oku))
}
out("n_examples", nrow(pub))
out("n_match_corrected_phi", n_match)
out("n_match_phi_uncorrected", n_match_u)

# =========================================================================================
# 7. ANCOVA with HC2 standard errors (estimatr::lm_robust). Non-clustered lm_robust uses
#    t(n - p) for p-values and CIs (df = 240 - 4 = 236). sandwich::vcovHC(type = "HC2") on the
#    same lm() fit is printed as a cross-check of the group SE.
# =========================================================================================
section("ancova_hc2")
fit <- lm_robust(post ~ group + pre + age, data = groups, se_type = "HC2")
for (term in c("group", "pre", "age")) {
  out(paste0(term, "_coef"), fit$coefficients[term])
  out(paste0(term, "_se"), fit$std.error[term])
  out(paste0(term, "_p_value"), fit$p.value[term])
  out(paste0(term, "_ci_low"), fit$conf.low[term])
  out(paste0(term, "_ci_high"), fit$conf.high[term])
  out(paste0(term, "_df"), fit$df[term])
}
ols <- lm(post ~ group + pre + age, data = groups)
out("group_se_sandwich_hc2", sqrt(vcovHC(ols, type = "HC2")["group", "group"]))

# =========================================================================================
# 8. ANCOVA with cluster-robust SEs by site, se_type = "stata": CR1 with Stata's factor
#    G/(G-1) * (N-1)/(N-p); p-values/CIs from t(G - 1) = t(11).
#    clubSandwich::vcovCR(type = "CR1S") is the same estimator (CR1 with the Stata factor);
#    its group SE is printed as a cross-check.
# =========================================================================================
section("ancova_cr1")
fit <- lm_robust(post ~ group + pre + age, data = groups, clusters = site, se_type = "stata")
out("group_coef", fit$coefficients["group"])
out("group_se", fit$std.error["group"])
out("group_p_value", fit$p.value["group"])
out("group_ci_low", fit$conf.low["group"])
out("group_ci_high", fit$conf.high["group"])
out("group_df", fit$df["group"])
out("n_clusters", length(unique(groups$site)))
vc <- vcovCR(ols, cluster = groups$site, type = "CR1S")
out("se_clubsandwich_cr1s", sqrt(vc["group", "group"]))

# =========================================================================================
# 9. Change-score regression: (post - pre) on group, HC2 SEs, t(n - 2) = t(238).
# =========================================================================================
section("change_score")
fit <- lm_robust(I(post - pre) ~ group, data = groups, se_type = "HC2")
out("group_coef", fit$coefficients["group"])
out("group_se", fit$std.error["group"])
out("group_p_value", fit$p.value["group"])
out("group_ci_low", fit$conf.low["group"])
out("group_ci_high", fit$conf.high["group"])
out("group_df", fit$df["group"])
