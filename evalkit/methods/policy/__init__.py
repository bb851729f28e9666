"""Designs for one adopting unit: synthetic control, synthetic DiD and interrupted time series."""
