"""The event index: stable splits, energy cuts, dataset figures, and the sweep points that read them."""
