"""The event index: stable splits, energy cuts, targets, dataset figures, and the sweep points."""
