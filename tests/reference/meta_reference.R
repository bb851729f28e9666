# Random-effects meta-analysis reference values for tests/test_meta.py.
#   Rscript tests/reference/meta_reference.R 2>/dev/null > tests/reference/meta_reference.txt
library(metafor)
cat("R_version", R.version$major, R.version$minor, " metafor", as.character(packageVersion("metafor")), "\n")
out <- function(name, x) cat(sprintf("%s %.12g\n", name, x))
show <- function(tag, fit) {
  cat(sprintf("[%s]\n", tag))
  out("estimate", fit$b[1]); out("se", fit$se); out("ci_low", fit$ci.lb); out("ci_high", fit$ci.ub)
  out("pval", fit$pval); out("tau2", fit$tau2); out("I2", fit$I2); out("QE", fit$QE); out("QEp", fit$QEp)
  p <- predict(fit)
  out("pi_low", p$pi.lb); out("pi_high", p$pi.ub)
}
# five programs: Hedges' g and its sampling variance
yi <- c(-0.63, -0.21, -0.48, -0.35, -0.10)
vi <- c(0.0070, 0.0115, 0.0234, 0.0150, 0.0300)
show("reml_knha", rma(yi, vi, method = "REML", test = "knha"))
show("reml_z", rma(yi, vi, method = "REML"))
show("dl_z", rma(yi, vi, method = "DL"))
show("dl_knha", rma(yi, vi, method = "DL", test = "knha"))
# two programs sharing an outcome domain (the smallest meta-analysis)
show("two_reml_knha", rma(c(-0.63, -0.21), c(0.0070, 0.0115), method = "REML", test = "knha"))
# homogeneous effects: tau2 = 0
show("homog_reml_knha", rma(c(0.30, 0.32, 0.29, 0.31), c(0.02, 0.03, 0.025, 0.04), method = "REML", test = "knha"))
