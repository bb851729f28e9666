# Reference for evalkit.prepost.compare_proportions(..., cluster=): the difference in
# proportions from the linear probability model with CR1 ("stata") standard errors.
# Data: proportions_clustered.csv (program at 5 of 10 sites) and
# proportions_clustered_mixed.csv (both groups at each of 6 sites), written once with numpy.
# Run from the repository root:
#   Rscript tests/reference/proportions_clustered.R > tests/reference/proportions_clustered.txt
suppressPackageStartupMessages(library(estimatr))
for (f in c("proportions_clustered", "proportions_clustered_mixed")) {
  d <- read.csv(file.path("tests/reference", paste0(f, ".csv")))
  fit <- lm_robust(school ~ in_program, data = d, clusters = site, se_type = "stata")
  s <- summary(fit)$coefficients["in_program", ]
  cat(sprintf("[%s]\n", f))
  cat(sprintf("estimate %.15g\nse %.15g\nci_low %.15g\nci_high %.15g\np_value %.15g\ndf %.15g\n",
              s["Estimate"], s["Std. Error"], s["CI Lower"], s["CI Upper"], s["Pr(>|t|)"],
              s["DF"]))
}
