"""Results across the sweep: the summary, comparisons, the thesis's numbers and figure style."""
