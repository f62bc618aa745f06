"""Results across the sweep: the summary, comparisons, provenance, the thesis's numbers and figure style."""
