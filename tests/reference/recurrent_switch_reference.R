# Reference values for split_episodes(..., switches=) and the episodes block of the survival
# template: R's tmerge() builds the (tstart, tstop] rows with a time-dependent covariate, and
# coxph / survfit fit the Andersen-Gill model and the mean cumulative function on them.
#
# Run from the repository root:
#   Rscript tests/reference/recurrent_switch_reference.R
# Reads data/sample/runaway_episodes.csv (one row per runaway; time 0 = first identified) and
# writes, under tests/reference/:
#   recurrent_switch_edges.csv / recurrent_switch_edges_R.csv: a small hand-made case (a change
#     before entry, after the end of follow-up, on an episode's day, never) and tmerge's rows;
#   recurrent_switch_sample_R.csv: tmerge's rows of the sample, time since program entry;
#   recurrent_switch_ag_R.csv: coxph(Surv(tstart, tstop, event) ~ specialized + changed + age,
#     cluster = youth_id), Efron ties;
#   recurrent_switch_mcf_R.csv: survfit(Surv(tstart, tstop, event) ~ specialized, id =
#     youth_id, ctype = 1) at days 90, 180, 365.
suppressPackageStartupMessages(library(survival))
options(digits = 17)
out <- "tests/reference"
wcsv <- function(df, file) {
  df[] <- lapply(df, function(x) if (is.numeric(x)) ifelse(is.na(x), "NA", sprintf("%.17g", x)) else x)
  write.csv(df, file.path(out, file), row.names = FALSE, quote = FALSE)
}
build <- function(eps) {
  # time since each youth's entry
  youth <- eps[!duplicated(eps$youth_id), ]
  youth$fu <- youth$exit_day - youth$entry_day
  youth$change <- youth$placement_change_day - youth$entry_day
  ev <- eps[!is.na(eps$runaway_day), ]
  ev$t <- ev$runaway_day - ev$entry_day
  base <- tmerge(youth[, c("youth_id", "specialized", "age")], youth, id = youth_id,
                 tstop = fu)
  base <- tmerge(base, ev, id = youth_id, event = event(t))
  base <- tmerge(base, youth, id = youth_id, changed = tdc(change))
  base$changed[is.na(base$changed)] <- 0  # a youth who never changed placement
  base[order(match(base$youth_id, youth$youth_id), base$tstart),
       c("youth_id", "tstart", "tstop", "event", "changed", "specialized", "age")]
}
# the edge cases: A changes before entry, B after follow-up ends, C on the day of an episode,
# D never, E in the middle of an interval
edges <- data.frame(
  youth_id = c("A", "A", "B", "C", "C", "D", "E"), specialized = c(1, 1, 0, 1, 1, 0, 0),
  age = c(14, 14, 15, 16, 16, 13, 17), entry_day = c(10, 10, 0, 5, 5, 20, 0),
  exit_day = c(200, 200, 100, 150, 150, 120, 90),
  placement_change_day = c(4, 4, 300, 65, 65, NA, 45),
  runaway_day = c(50, 120, NA, 65, 100, NA, 30))
write.csv(edges, file.path(out, "recurrent_switch_edges.csv"), row.names = FALSE, na = "")
wcsv(build(edges), "recurrent_switch_edges_R.csv")
eps <- read.csv("data/sample/runaway_episodes.csv")
rows <- build(eps)
wcsv(rows, "recurrent_switch_sample_R.csv")
fit <- coxph(Surv(tstart, tstop, event) ~ specialized + changed + age, data = rows,
             cluster = youth_id, ties = "efron")
s <- summary(fit)
wcsv(data.frame(term = rownames(s$coefficients), coef = s$coefficients[, "coef"],
                se = s$coefficients[, "se(coef)"], robust_se = s$coefficients[, "robust se"],
                p = s$coefficients[, "Pr(>|z|)"], lower = s$conf.int[, "lower .95"],
                upper = s$conf.int[, "upper .95"], loglik = fit$loglik[2]),
     "recurrent_switch_ag_R.csv")
mcf <- survfit(Surv(tstart, tstop, event) ~ specialized, data = rows, id = youth_id,
               ctype = 1)
sm <- summary(mcf, times = c(90, 180, 365))
wcsv(data.frame(group = sub("specialized=", "", as.character(sm$strata)), time = sm$time,
                n_risk = sm$n.risk, cumhaz = sm$cumhaz, std_chaz = sm$std.chaz),
     "recurrent_switch_mcf_R.csv")
print(fit)
print(sm)
