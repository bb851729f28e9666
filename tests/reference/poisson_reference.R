# Reference values for evalkit.methods.did.poisson.poisson_twfe on poisson_panel.csv.
#
# fixest::fepois(arrests ~ treated | unit + period, offset = ~log_pop, cluster = ~unit) is
# reproduced without fixest:
#  * fixest (fixef.rm = "perfect") first drops every unit and every period whose outcome is
#    zero in all its rows (one round; src/quf.cpp); done here by hand.
#  * The point estimate is that of glm(family = poisson) with unit and period dummies.
#  * fixest's vcov (R/VCOV.R) multiplies the sandwich by (n - 1) / (n - K) (ssc adj = TRUE),
#    with K = nparams = 1 + U + T - 1 (coefficient, unit and period effects), less the
#    effects nested in the cluster variable (fixef.K = "nested": unit effects when clustering
#    by unit or by region, since units sit inside regions), and by G / (G - 1) when clustered
#    (cluster.adj = TRUE). With "hetero" the meat is scaled by n / (n - 1).
#    sandwich::vcovCL(type = "HC1") has G/(G-1) * (n-1)/(n-k) with k = all glm coefficients
#    (1 + U + T - 1), so fixest = vcovCL(HC1) * (n - k) / (n - K_nested).
#    vcovHC(type = "HC1") has n / (n - k), which is fixest's hetero factor n/(n-1)*(n-1)/(n-K).
#    The iid variance is vcov(glm) * (n - 1) / (n - K).
#  * p-values and intervals are normal (fixest's coeftable for fepois uses z).
# Run: Rscript tests/reference/poisson_reference.R > tests/reference/poisson_reference.txt
suppressPackageStartupMessages(library(sandwich))
d <- read.csv("tests/reference/poisson_panel.csv")
zero_unit <- tapply(d$arrests, d$unit, sum) == 0
zero_period <- tapply(d$arrests, d$period, sum) == 0
drop <- zero_unit[d$unit] | zero_period[as.character(d$period)]
cat(sprintf("dropped: %d observations, %d units, %d periods\n", sum(drop), sum(zero_unit),
            sum(zero_period)))
d <- d[!drop, ]
n <- nrow(d); U <- length(unique(d$unit)); Tn <- length(unique(d$period))
k_glm <- 1 + U + Tn - 1
ctl <- glm.control(epsilon = 1e-13, maxit = 100)
report <- function(name, fit, V) {
  b <- unname(coef(fit)["treated"]); se <- sqrt(V["treated", "treated"])
  z <- qnorm(0.975)
  cat(sprintf("%s coef=%.15g se=%.15g p=%.15g ci_low=%.15g ci_high=%.15g n=%d\n", name, b, se,
              2 * pnorm(-abs(b / se)), b - z * se, b + z * se, n))
}
f_off <- glm(arrests ~ treated + factor(unit) + factor(period), family = poisson, data = d,
             offset = log_pop, control = ctl)
f_no <- glm(arrests ~ treated + factor(unit) + factor(period), family = poisson, data = d,
            control = ctl)
cat(sprintf("deviance_offset=%.12g\n", deviance(f_off)))
K_full <- k_glm
K_nested <- 1 + Tn  # unit effects nested in the clusters (unit or region); periods are not
G_unit <- length(unique(d$unit)); G_region <- length(unique(d$region))
cl_factor <- (n - k_glm) / (n - K_nested)
report("crv1_unit_offset", f_off, vcovCL(f_off, cluster = ~unit, type = "HC1") * cl_factor)
report("iid_offset", f_off, vcov(f_off) * (n - 1) / (n - K_full))
report("hetero_offset", f_off, vcovHC(f_off, type = "HC1"))
report("crv1_region_offset", f_off, vcovCL(f_off, cluster = ~region, type = "HC1") * cl_factor)
report("crv1_unit_no_offset", f_no, vcovCL(f_no, cluster = ~unit, type = "HC1") * cl_factor)
