# Reference values for staggered(panel=False / allow_unbalanced_panel / weights / cluster).
# R did 2.5.1 (bcallaway11/did), DRDID 1.2.3 (pedrohcgs/DRDID), BMisc 1.4.8, installed
# from their GitHub sources into a private library; run with
#   R_LIBS=<private library> Rscript staggered_options_R.R <mpdta.csv> <output.csv>
suppressPackageStartupMessages(library(did))
args <- commandArgs(trailingOnly = TRUE)
mp <- read.csv(args[1])
mp$first.treat <- as.numeric(mp$first.treat)
# deterministic sampling weight (time-invariant) and a state cluster (FIPS county code %/% 1000)
mp$w <- 1 + (mp$countyreal %% 7) / 4
mp$state <- mp$countyreal %/% 1000
# deterministic unbalanced panel: delete one year for every 6th county (rotating the year)
drop <- (mp$countyreal %% 6 == 0) & (mp$year == 2003 + (mp$countyreal %/% 6) %% 5)
mpu <- mp[!drop, ]
# repeated cross-section: a time-varying "weight" is fine there; use the row weight as well
mp$wrc <- 1 + ((mp$countyreal + mp$year) %% 5) / 3

cases <- list(
  rc_dr        = list(data = mp,  panel = FALSE, est = "dr"),
  rc_ipw       = list(data = mp,  panel = FALSE, est = "ipw"),
  rc_reg       = list(data = mp,  panel = FALSE, est = "reg"),
  rc_dr_x      = list(data = mp,  panel = FALSE, est = "dr",  x = ~lpop),
  rc_ipw_x     = list(data = mp,  panel = FALSE, est = "ipw", x = ~lpop),
  rc_reg_x     = list(data = mp,  panel = FALSE, est = "reg", x = ~lpop),
  rc_dr_x_nyt  = list(data = mp,  panel = FALSE, est = "dr",  x = ~lpop, cg = "notyettreated"),
  rc_dr_x_w    = list(data = mp,  panel = FALSE, est = "dr",  x = ~lpop, w = "wrc"),
  rc_reg_w     = list(data = mp,  panel = FALSE, est = "reg", w = "wrc"),
  rc_dr_x_cl   = list(data = mp,  panel = FALSE, est = "dr",  x = ~lpop, cl = "state"),
  rc_dr_univ   = list(data = mp,  panel = FALSE, est = "dr",  x = ~lpop, bp = "universal"),
  ub_dr        = list(data = mpu, panel = TRUE, unb = TRUE, est = "dr"),
  ub_dr_x      = list(data = mpu, panel = TRUE, unb = TRUE, est = "dr",  x = ~lpop),
  ub_ipw_x     = list(data = mpu, panel = TRUE, unb = TRUE, est = "ipw", x = ~lpop),
  ub_reg_x     = list(data = mpu, panel = TRUE, unb = TRUE, est = "reg", x = ~lpop),
  ub_dr_x_nyt  = list(data = mpu, panel = TRUE, unb = TRUE, est = "dr",  x = ~lpop, cg = "notyettreated"),
  ub_dr_x_w    = list(data = mpu, panel = TRUE, unb = TRUE, est = "dr",  x = ~lpop, w = "w"),
  ub_dr_x_cl   = list(data = mpu, panel = TRUE, unb = TRUE, est = "dr",  x = ~lpop, cl = "state"),
  bal_unb_flag = list(data = mp,  panel = TRUE, unb = TRUE, est = "dr",  x = ~lpop),
  p_dr_w       = list(data = mp,  panel = TRUE, est = "dr"),
  p_dr_x_w     = list(data = mp,  panel = TRUE, est = "dr",  x = ~lpop, w = "w"),
  p_ipw_x_w    = list(data = mp,  panel = TRUE, est = "ipw", x = ~lpop, w = "w"),
  p_reg_x_w    = list(data = mp,  panel = TRUE, est = "reg", x = ~lpop, w = "w"),
  p_nyt_w      = list(data = mp,  panel = TRUE, est = "dr",  w = "w", cg = "notyettreated"),
  p_dr_x_cl    = list(data = mp,  panel = TRUE, est = "dr",  x = ~lpop, cl = "state"),
  p_dr_x_w_cl  = list(data = mp,  panel = TRUE, est = "dr",  x = ~lpop, w = "w", cl = "state"),
  # time-varying weights in a balanced panel: each 2x2 uses its earlier period's weights
  p_dr_x_wtv   = list(data = mp,  panel = TRUE, est = "dr",  x = ~lpop, w = "wrc"),
  rc_ipw_x_w_nyt = list(data = mp, panel = FALSE, est = "ipw", x = ~lpop, w = "wrc",
                        cg = "notyettreated"),
  ub_reg_w_cl  = list(data = mpu, panel = TRUE, unb = TRUE, est = "reg", w = "w", cl = "state")
)
cases$p_dr_w$w <- "w"

fmt <- function(x) formatC(x, digits = 17, format = "g")
out <- list()
for (nm in names(cases)) {
  cs <- cases[[nm]]
  cl <- if (is.null(cs$cl)) NULL else c("countyreal", cs$cl)
  fit <- suppressWarnings(suppressMessages(att_gt(
    yname = "lemp", tname = "year", idname = "countyreal", gname = "first.treat",
    xformla = if (is.null(cs$x)) NULL else cs$x, data = cs$data, panel = cs$panel,
    allow_unbalanced_panel = isTRUE(cs$unb),
    control_group = if (is.null(cs$cg)) "nevertreated" else cs$cg,
    weightsname = cs$w, clustervars = cl, est_method = cs$est,
    base_period = if (is.null(cs$bp)) "varying" else cs$bp,
    bstrap = FALSE, cband = FALSE)))
  out[[length(out) + 1]] <- data.frame(case = nm, kind = "attgt", key1 = fit$group,
                                       key2 = fit$t, estimate = fmt(fit$att), se = fmt(fit$se))
  out[[length(out) + 1]] <- data.frame(case = nm, kind = "n", key1 = NA, key2 = NA,
                                       estimate = fit$n, se = NA)
  if (!is.null(fit$W)) {
    out[[length(out) + 1]] <- data.frame(case = nm, kind = "wald", key1 = NA, key2 = NA,
                                         estimate = fmt(fit$W), se = NA)
  }
  s <- suppressWarnings(aggte(fit, type = "simple", bstrap = FALSE, cband = FALSE))
  out[[length(out) + 1]] <- data.frame(case = nm, kind = "simple", key1 = NA, key2 = NA,
                                       estimate = fmt(s$overall.att), se = fmt(s$overall.se))
  d <- suppressWarnings(aggte(fit, type = "dynamic", bstrap = FALSE, cband = FALSE))
  out[[length(out) + 1]] <- data.frame(case = nm, kind = "dynamic", key1 = NA, key2 = NA,
                                       estimate = fmt(d$overall.att), se = fmt(d$overall.se))
  out[[length(out) + 1]] <- data.frame(case = nm, kind = "dynamic_e", key1 = d$egt, key2 = NA,
                                       estimate = fmt(d$att.egt), se = fmt(d$se.egt))
}
res <- do.call(rbind, out)
write.csv(res, args[2], row.names = FALSE, quote = FALSE)
