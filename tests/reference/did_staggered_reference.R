# Reference values for tests/test_did_staggered.py, computed in base R (R's did package is not
# installable here; these are the closed-form 2x2 differences its rules lead to).
# Run from the repository root:  Rscript tests/reference/did_staggered_reference.R \
#   > tests/reference/did_staggered_reference.txt
d <- read.csv("tests/reference/mpdta.csv")
w <- reshape(d[, c("countyreal", "year", "lemp")], idvar = "countyreal", timevar = "year",
             direction = "wide")
g <- d$first.treat[match(w$countyreal, d$countyreal)]
y <- function(t) w[[paste0("lemp.", t)]]
did <- function(gg, t, base, control) {
  dy <- y(t) - y(base)
  mean(dy[g == gg]) - mean(dy[control])
}
out <- c(
  # 1. the 2007 cohort recoded to adopt in 2009 (after the data end) is never treated:
  #    ATT(2006, 2007), base 2005, comparison = never treated and the recoded cohort
  late_att_2006_2007 = did(2006, 2007, 2005, g == 0 | g == 2007),
  # 3. anticipation = 2: ATT(2007, 2006) is a pre cell (g > t) with the varying base 2005
  antic2_att_2007_2006 = did(2007, 2006, 2005, g == 0),
  # 4. universal base: ATT(2007, 2003) compares 2003 with the base year 2006
  universal_att_2007_2003 = did(2007, 2003, 2006, g == 0),
  # 7. cluster-robust SE (cluster sums of the influence function, no small-sample factor, as
  #    did 2.5's analytic clustered SE) of ATT(2006, 2006), clusters = countyreal %/% 1000
  cluster_se_2006_2006 = {
    dy <- y(2006) - y(2005)
    tr <- g == 2006; co <- g == 0
    contrib <- numeric(length(dy))
    contrib[tr] <- (dy[tr] - mean(dy[tr])) / sum(tr)
    contrib[co] <- -(dy[co] - mean(dy[co])) / sum(co)
    sqrt(sum(tapply(contrib, w$countyreal %/% 1000, sum)^2))
  }
)
cat("# R", R.version$major, ".", R.version$minor, " base only; see did_staggered_reference.R\n",
    sep = "")
for (k in names(out)) cat(k, sprintf("%.15g", out[[k]]), "\n")
