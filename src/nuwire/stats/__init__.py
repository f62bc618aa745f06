"""Statistics of test-set results: binary metrics of a score, bootstrap, comparisons, calibration, sample control,
± formatting."""
