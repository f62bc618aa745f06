"""Uncertainties of test-set results: bootstrap, comparisons, calibration, sample control, ± formatting."""
