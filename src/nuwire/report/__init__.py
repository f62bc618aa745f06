"""Results across the sweep: the summary, comparisons, multi-class and Pandora sections, the thesis's numbers."""
