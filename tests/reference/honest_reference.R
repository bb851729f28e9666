# Reference values for evalkit.methods.did.honest (R HonestDiD 0.2.8).
#
# Usage: Rscript honest_reference.R <HonestDiD source tree> <output dir>
#
# The source tree is github.com/asheshrambachan/HonestDiD (commit 6813f02); its README_cache
# holds the objects knitr cached when the README was built: the Medicaid-expansion event
# study with controls (betahat, sigma), the data behind it, and the sensitivity results the
# README prints (at full precision). The baseline event study of the README (no controls) is not
# cached; it is recomputed here as fixest::feols(dins ~ i(year, D, ref = 2013) | stfips + year,
# cluster = "stfips") does it: OLS with unit and year dummies, CR1 with fixest's small-sample
# factor G/(G-1) (n-1)/(n-K), K = 7 + 8 year effects (the state effects nest in the clusters).
# The same rule reproduces the cached model with controls to 1.5e-13 (checked below).
#
# HonestDiD was installed into a private library without CVXR (not installable on R 4.2), so
# the relative-magnitude (C-LF) results are computed here by HonestDiD itself, while the FLCI
# results are the README's cached ones.
options(digits = 17)
args <- commandArgs(trailingOnly = TRUE)
src <- args[1]; out <- args[2]
library(HonestDiD)
cache <- function(stem) {
  f <- list.files(file.path(src, "README_cache/gfm"), pattern = paste0("^", stem, "_.*rdb$"),
                  full.names = TRUE)
  e <- new.env(); lazyLoad(sub("\\.rdb$", "", f), envir = e); e
}
c8 <- cache("unnamed-chunk-8")
d <- as.data.frame(c8$df_nonstaggered)
d$stfips <- as.numeric(unclass(d$stfips)); d$year <- as.numeric(unclass(d$year))
yrs <- setdiff(sort(unique(d$year)), 2013)
for (y in yrs) d[[paste0("ev", y)]] <- (d$year == y) * d$D
twfe <- function(ctrl) {
  f <- paste("dins ~", paste(paste0("ev", yrs), collapse = "+"), if (ctrl) "+ control" else "",
             "+ factor(stfips) + factor(year)")
  m <- lm(as.formula(f), data = d)
  X <- model.matrix(m); u <- resid(m); n <- nrow(X); G <- length(unique(d$stfips))
  B <- solve(crossprod(X)); S <- rowsum(X * u, d$stfips)
  K <- length(yrs) + ctrl + length(unique(d$year))
  V <- B %*% crossprod(S) %*% B * G / (G - 1) * (n - 1) / (n - K)
  nm <- paste0("ev", yrs)
  list(b = unname(coef(m)[nm]), V = unname(V[nm, nm]))
}
chk <- twfe(TRUE)
stopifnot(max(abs(chk$V - unname(c8$sigma)) / abs(unname(c8$sigma))) < 1e-11,
          max(abs(chk$b - unname(c8$betahat))) < 1e-13)
base <- twfe(FALSE)
write_inputs <- function(b, V, file) {
  df <- data.frame(betahat = b, V)
  names(df) <- c("betahat", paste0("sigma", seq_along(b)))
  write.csv(df, file.path(out, file), row.names = FALSE)
}
write_inputs(base$b, base$V, "honest_medicaid_inputs.csv")
write_inputs(unname(c8$betahat), unname(c8$sigma), "honest_medicaid_controls_inputs.csv")
c10 <- cache("unnamed-chunk-10")
write_inputs(c(c10$kwargs$betahat), unname(c10$kwargs$sigma), "honest_sunab_inputs.csv")

rows <- list()
add <- function(case, res, mcol, source) {
  rows[[length(rows) + 1]] <<- data.frame(case = case, m = res[[mcol]], lb = res$lb,
                                          ub = res$ub, method = res$method, source = source)
}
b <- base$b; V <- base$V
t0 <- Sys.time()
add("rm_first", createSensitivityResults_relativeMagnitudes(b, V, 5, 2,
    Mbarvec = seq(0.5, 2, by = 0.5)), "Mbar", "R HonestDiD")
cat("first done", format(Sys.time() - t0), "\n")
add("rm_avg", createSensitivityResults_relativeMagnitudes(b, V, 5, 2,
    Mbarvec = seq(0, 2, by = 0.5), l_vec = c(0.5, 0.5)), "Mbar", "R HonestDiD")
add("rm_default", createSensitivityResults_relativeMagnitudes(b, V, 5, 2), "Mbar",
    "R HonestDiD")
cat("default done", format(Sys.time() - t0), "\n")
add("rm_second", createSensitivityResults_relativeMagnitudes(b, V, 5, 2,
    Mbarvec = c(0, 1), l_vec = c(0, 1)), "Mbar", "R HonestDiD")
add("rm_onepost", createSensitivityResults_relativeMagnitudes(b[1:6], V[1:6, 1:6], 5, 1,
    Mbarvec = c(0, 0.5, 1, 2)), "Mbar", "R HonestDiD")
add("rm_twopre", createSensitivityResults_relativeMagnitudes(b[4:7], V[4:7, 4:7], 2, 2,
    Mbarvec = c(0.5, 1.5), alpha = 0.1), "Mbar", "R HonestDiD")
cat("R time", format(Sys.time() - t0), "\n")
# README cache (knitr), same inputs: the README's printed tables at full precision
add("readme_rm_first", cache("unnamed-chunk-4")$delta_rm_results, "Mbar", "README cache")
add("readme_rm_avg", cache("unnamed-chunk-7")$delta_rm_results_avg, "Mbar", "README cache")
add("readme_sd_first", cache("unnamed-chunk-6")$delta_sd_results, "M", "README cache")
add("readme_rm_sunab", c10$sensitivity_results, "Mbar", "README cache")
o1 <- constructOriginalCS(b, V, 5, 2)
o2 <- constructOriginalCS(b, V, 5, 2, l_vec = c(0.5, 0.5))
rows[[length(rows) + 1]] <- data.frame(case = c("original_first", "original_avg"), m = NA,
  lb = c(o1$lb, o2$lb), ub = c(o1$ub, o2$ub), method = "Original", source = "R HonestDiD")
mub <- DeltaSD_upperBound_Mpre(b, V, 5)
rows[[length(rows) + 1]] <- data.frame(case = "sd_default_Mub", m = mub, lb = NA, ub = NA,
  method = "DeltaSD_upperBound_Mpre", source = "R HonestDiD")
write.csv(do.call(rbind, rows), file.path(out, "honest_reference_R.csv"), row.names = FALSE)

# R's random numbers, as HonestDiD draws them
set.seed(0); z <- rnorm(6)
set.seed(0); mv <- mvtnorm::rmvnorm(3, sigma = V[6:7, 6:7])
tn <- c(TruncatedNormal::norminvp(0.95, -1, 2), TruncatedNormal::norminvp(0.9, -3, -0.5),
        TruncatedNormal::norminvp(0.5, 36, Inf), TruncatedNormal::norminvp(0.975, -Inf, 0.3))
set.seed(0); fq <- quantile(abs(rnorm(10^6) + 0.7), 0.95, names = FALSE)
write.csv(data.frame(what = c(rep("rnorm", 6), rep("rmvnorm", 6), rep("norminvp", 4), "qfolded"),
                     value = c(z, c(t(mv)), tn, fq)),
          file.path(out, "honest_rng_R.csv"), row.names = FALSE)
