# Reference values for tests/test_prepost.py, produced with R (see prepost_reference.txt).
#   Rscript tests/reference/prepost_reference.R 2>/dev/null > tests/reference/prepost_reference.txt
library(metafor)
sleep <- read.csv("tests/reference/sleep.csv")
cat("R version:", R.version.string, " metafor:", as.character(packageVersion("metafor")), "\n")

# Paired t-test, change = drug1 - drug2 (post = drug1, pre = drug2)
tt <- t.test(sleep$extra_drug1, sleep$extra_drug2, paired = TRUE)
cat(sprintf("sleep_t %.10f\nsleep_df %d\nsleep_p %.10e\nsleep_ci_low %.10f\nsleep_ci_high %.10f\nsleep_mean_diff %.10f\n",
            tt$statistic, as.integer(tt$parameter), tt$p.value, tt$conf.int[1], tt$conf.int[2], tt$estimate))

# Hedges' g_av and its variance: metafor's standardized mean change with raw-score
# standardization (measure "SMCR": exact J with df = n - 1, vi = 2(1 - r)/n + yi^2/(2n)),
# with the standardizer set to the average of the pre and post SDs.
g_av <- function(post, pre) {
  n <- length(pre); sdav <- (sd(pre) + sd(post)) / 2
  es <- escalc(measure = "SMCR", m1i = mean(post), m2i = mean(pre), sd1i = sdav,
               ni = n, ri = cor(pre, post))
  ci <- summary(es)
  cat(sprintf("g_av %.10f\nvar %.10e\nci_low %.10f\nci_high %.10f\n", es$yi, es$vi, ci$ci.lb, ci$ci.ub))
}
cat("[sleep]\n"); g_av(sleep$extra_drug1, sleep$extra_drug2)
movie1 <- c(9, 7, 8, 9, 8, 9, 9, 10, 9, 9)
movie2 <- c(9, 6, 7, 8, 7, 9, 8, 8, 8, 7)
cat("[lakens]\n"); g_av(movie1, movie2)
tl <- t.test(movie1, movie2, paired = TRUE)
cat(sprintf("lakens_t %.10f\nlakens_r %.10f\n", tl$statistic, cor(movie1, movie2)))
