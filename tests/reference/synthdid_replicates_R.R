# Placebo and bootstrap replicate estimates of R synthdid for given unit draws, so that the
# replicates of evalkit.methods.policy.synthdid can be checked one by one (the draws of R's
# generator are written beside the estimates and fed to the Python code).
#
# Source: R package synthdid (GitHub synth-inference/synthdid, commit 70c1ce3), installed with
#   R CMD INSTALL -l /tmp/rlib <snapshot>
# The replicate functions follow the package's vcov.R (placebo_se and bootstrap_sample's
# theta), which are not exported.
# Run from this directory:  Rscript synthdid_replicates_R.R  -> synthdid_replicates_R.csv
suppressMessages(library(synthdid, lib.loc = "/tmp/rlib"))
prop99 = read.csv("california_prop99.csv", sep = ";", stringsAsFactors = FALSE)
prop99$treated = as.integer(prop99$State %in% c("California", "Nevada", "Utah") & prop99$Year >= 1989)
setup = panel.matrices(prop99, unit = "State", time = "Year", outcome = "PacksPerCapita",
                       treatment = "treated")
N0 = setup$N0; N1 = nrow(setup$Y) - N0
sum_normalize = function(x) { if (sum(x) != 0) { x / sum(x) } else { rep(1 / length(x), length(x)) } }
out = data.frame(kind = character(), estimator = character(), rep = integer(),
                 draw = character(), estimate = character(), stringsAsFactors = FALSE)
for (e in c("sdid", "sc", "did")) {
  fn = list(sdid = synthdid_estimate, sc = sc_estimate, did = did_estimate)[[e]]
  est = fn(setup$Y, setup$N0, setup$T0)
  opts = attr(est, "opts"); weights = attr(est, "weights"); X = attr(est, "setup")$X
  set.seed(42)
  for (r in 1:15) {  # placebo_se's theta
    ind = sample(1:N0)
    n0 = length(ind) - N1
    w = weights; w$omega = sum_normalize(weights$omega[ind[1:n0]])
    tau = do.call(synthdid_estimate, c(list(Y = setup$Y[ind, ], N0 = n0, T0 = setup$T0,
                                            X = X[ind, , ], weights = w), opts))
    out[nrow(out) + 1, ] = list("placebo", e, r, paste(ind, collapse = " "), sprintf("%.17g", c(tau)))
  }
  r = 0
  while (r < 15) {  # bootstrap_sample's theta, draws without a treated or control unit skipped
    ind = sample(1:nrow(setup$Y), replace = TRUE)
    if (all(ind <= N0) || all(ind > N0)) next
    r = r + 1
    w = weights; w$omega = sum_normalize(weights$omega[sort(ind[ind <= N0])])
    tau = do.call(synthdid_estimate, c(list(Y = setup$Y[sort(ind), ], N0 = sum(ind <= N0),
                                            T0 = setup$T0, X = X[sort(ind), , ],
                                            weights = w), opts))
    out[nrow(out) + 1, ] = list("bootstrap", e, r, paste(ind, collapse = " "), sprintf("%.17g", c(tau)))
  }
}
write.csv(out, "synthdid_replicates_R.csv", row.names = FALSE, quote = FALSE)
