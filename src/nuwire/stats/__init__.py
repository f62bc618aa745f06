"""Uncertainties of test-set results: bootstrap intervals, paired comparisons, calibration, the sample-identity control, and value ± error formatting."""
