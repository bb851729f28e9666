# Reference values for evalkit.methods.policy.synthdid (tests/test_policy_synthdid.py).
#
# Source: R package synthdid (Arkhangelsky, Athey, Hirshberg, Imbens & Wager 2021), GitHub
# synth-inference/synthdid at commit 70c1ce3, installed into a private library with
#   R CMD INSTALL -l /tmp/rlib <snapshot>
# Data: california_prop99.csv from the same repository (data/), committed beside this script.
#
# Run from this directory:  Rscript synthdid_prop99_R.R
# Writes synthdid_prop99_R.csv (estimates, tuning values, standard errors),
# synthdid_prop99_R_weights.csv (unit weights omega and time weights lambda) and
# synthdid_prop99_R.txt (the log).
suppressMessages(library(synthdid, lib.loc = "/tmp/rlib"))
sink("synthdid_prop99_R.txt", split = TRUE)
cat("R", R.version.string, "; synthdid", as.character(packageVersion("synthdid", lib.loc = "/tmp/rlib")), "\n")

prop99 = read.csv("california_prop99.csv", sep = ";", stringsAsFactors = FALSE)

# Panel "prop99": California alone treated from 1989 (the package's example).
# Panel "prop99_multi": the same outcomes with California, Nevada and Utah treated from 1989,
# so that the jackknife and the bootstrap (undefined with one treated unit) are defined.
multi = prop99
multi$treated = as.integer(multi$State %in% c("California", "Nevada", "Utah") & multi$Year >= 1989)
panels = list(prop99 = prop99, prop99_multi = multi)

scalars = data.frame(panel = character(), estimator = character(), quantity = character(),
                     value = numeric(), stringsAsFactors = FALSE)
weights = data.frame(panel = character(), estimator = character(), type = character(),
                     name = character(), weight = numeric(), stringsAsFactors = FALSE)
add = function(p, e, q, v) {
  scalars[nrow(scalars) + 1, ] <<- list(p, e, q, as.numeric(v))
}
fns = list(sdid = synthdid_estimate, sc = sc_estimate, did = did_estimate)

for (p in names(panels)) {
  setup = panel.matrices(panels[[p]], unit = "State", time = "Year", outcome = "PacksPerCapita",
                         treatment = "treated")
  for (e in names(fns)) {
    est = fns[[e]](setup$Y, setup$N0, setup$T0)
    w = attr(est, "weights"); o = attr(est, "opts")
    add(p, e, "estimate", c(est))
    add(p, e, "zeta.omega", o$zeta.omega)
    add(p, e, "zeta.lambda", o$zeta.lambda)
    add(p, e, "min.decrease", o$min.decrease)
    add(p, e, "se.jackknife", sqrt(vcov(est, method = "jackknife")))
    weights = rbind(weights, data.frame(panel = p, estimator = e, type = "omega",
                                        name = rownames(setup$Y)[1:setup$N0], weight = w$omega))
    weights = rbind(weights, data.frame(panel = p, estimator = e, type = "lambda",
                                        name = colnames(setup$Y)[1:setup$T0], weight = w$lambda))
    cat(sprintf("%s %s estimate %.15g jackknife se %.15g\n", p, e, c(est),
                sqrt(vcov(est, method = "jackknife"))))
  }
}

# Random-draw standard errors: R's own draws (set.seed), for a tolerance comparison only.
setup = panel.matrices(prop99, unit = "State", time = "Year", outcome = "PacksPerCapita",
                       treatment = "treated")
for (e in names(fns)) {
  est = fns[[e]](setup$Y, setup$N0, setup$T0)
  set.seed(20210101)
  reps = if (e == "sdid") 1000 else 500
  se = sqrt(vcov(est, method = "placebo", replications = reps))
  add("prop99", e, sprintf("se.placebo.%d", reps), se)
  cat(sprintf("prop99 %s placebo se (%d reps, seed 20210101) %.10g\n", e, reps, se))
}
setup = panel.matrices(multi, unit = "State", time = "Year", outcome = "PacksPerCapita",
                       treatment = "treated")
est = synthdid_estimate(setup$Y, setup$N0, setup$T0)
set.seed(20210101)
se = sqrt(vcov(est, method = "bootstrap", replications = 500))
add("prop99_multi", "sdid", "se.bootstrap.500", se)
cat(sprintf("prop99_multi sdid bootstrap se (500 reps, seed 20210101) %.10g\n", se))
set.seed(20210101)
se = sqrt(vcov(est, method = "placebo", replications = 500))
add("prop99_multi", "sdid", "se.placebo.500", se)
cat(sprintf("prop99_multi sdid placebo se (500 reps, seed 20210101) %.10g\n", se))

scalars$value = sprintf("%.17g", scalars$value)
write.csv(scalars, "synthdid_prop99_R.csv", row.names = FALSE, quote = FALSE)
weights$weight = sprintf("%.17g", weights$weight)
write.csv(weights, "synthdid_prop99_R_weights.csv", row.names = FALSE, quote = FALSE)
sink()
