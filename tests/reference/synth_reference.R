# Reference values for evalkit.methods.policy.synth (tests/test_policy_synth.py).
# Source: R package Synth 1.1-8 (CRAN; Abadie, Diamond & Hainmueller 2011, JSS 42(13)),
# synth() and dataprep() with their defaults (ipop, optimx Nelder-Mead + BFGS, equal and
# regression starts). Data: california_prop99.csv (github synth-inference/synthdid,
# data/california_prop99.csv) and Synth's own basque data, written to synth_basque.csv.
# Run from tests/reference: Rscript synth_reference.R > synth_reference.txt
suppressMessages(library(Synth))
options(digits = 10)
quiet <- function(expr) { capture.output(x <- expr); x }
emit <- function(case, kind, name, value)
  cat(sprintf("%s,%s,%s,%.10f\n", case, kind, name, value), sep = "")
report <- function(case, s, dp) {
  w <- s$solution.w[, 1]
  names(w) <- colnames(dp$X0)
  for (u in names(w)) emit(case, "w", u, w[[u]])
  v <- as.numeric(s$solution.v)
  for (i in seq_along(v)) emit(case, "v", rownames(dp$X0)[i], v[i])
  emit(case, "loss", "mspe", as.numeric(s$loss.v))
}
cat("case,kind,name,value\n")

# California, Proposition 99 (1989): lagged sales 1975, 1980, 1988 and the 1970-88 mean
ca <- read.csv("california_prop99.csv", sep = ";")
ca$id <- as.integer(factor(ca$State))
ca$State <- as.character(ca$State)
tr <- unique(ca$id[ca$State == "California"])
ctrl <- setdiff(sort(unique(ca$id)), tr)
dp_ca <- dataprep(foo = ca, predictors = NULL, dependent = "PacksPerCapita",
  unit.variable = "id", time.variable = "Year", unit.names.variable = "State",
  special.predictors = list(list("PacksPerCapita", 1975, "mean"),
                            list("PacksPerCapita", 1980, "mean"),
                            list("PacksPerCapita", 1988, "mean"),
                            list("PacksPerCapita", 1970:1988, "mean")),
  treatment.identifier = tr, controls.identifier = ctrl,
  time.predictors.prior = 1970:1988, time.optimize.ssr = 1970:1988, time.plot = 1970:2000)
colnames(dp_ca$X0) <- dp_ca$names.and.numbers$unit.names[-1]
report("ca_lags", quiet(synth(dp_ca)), dp_ca)
# same predictors, V fixed to equal weights: checks W given V (the quadratic programme)
report("ca_lags_equalv", quiet(synth(dp_ca, custom.v = rep(0.25, 4))), dp_ca)

# California, every pre-period outcome a predictor, V fixed to the predictors' variances
# (the closed-form V of evalkit for predictors=None)
dp_all <- dataprep(foo = ca, predictors = NULL, dependent = "PacksPerCapita",
  unit.variable = "id", time.variable = "Year", unit.names.variable = "State",
  special.predictors = lapply(1970:1988, function(y) list("PacksPerCapita", y, "mean")),
  treatment.identifier = tr, controls.identifier = ctrl,
  time.predictors.prior = 1970:1988, time.optimize.ssr = 1970:1988, time.plot = 1970:2000)
colnames(dp_all$X0) <- dp_all$names.and.numbers$unit.names[-1]
vv <- apply(cbind(dp_all$X0, dp_all$X1), 1, var)
report("ca_all_varv", quiet(synth(dp_all, custom.v = vv / sum(vv))), dp_all)

# Basque Country (Abadie & Gardeazabal 2003), the example of ?synth without its recoding of
# the schooling shares; published weights: Cataluna 0.851, Madrid 0.149
data(basque)
keep <- basque$year >= 1960 & basque$regionno != 1
write.csv(basque[keep, ], "synth_basque.csv", row.names = FALSE)
dp_b <- dataprep(foo = basque,
  predictors = c("school.illit", "school.prim", "school.med", "school.high",
                 "school.post.high", "invest"),
  predictors.op = "mean", dependent = "gdpcap", unit.variable = "regionno",
  time.variable = "year",
  special.predictors = list(list("gdpcap", 1960:1969, "mean"),
    list("sec.agriculture", seq(1961, 1969, 2), "mean"),
    list("sec.energy", seq(1961, 1969, 2), "mean"),
    list("sec.industry", seq(1961, 1969, 2), "mean"),
    list("sec.construction", seq(1961, 1969, 2), "mean"),
    list("sec.services.venta", seq(1961, 1969, 2), "mean"),
    list("sec.services.nonventa", seq(1961, 1969, 2), "mean"),
    list("popdens", 1969, "mean")),
  treatment.identifier = 17, controls.identifier = c(2:16, 18),
  time.predictors.prior = 1964:1969, time.optimize.ssr = 1960:1969,
  unit.names.variable = "regionname", time.plot = 1960:1997)
colnames(dp_b$X0) <- dp_b$names.and.numbers$unit.names[-1]
report("basque", quiet(synth(dp_b)), dp_b)
