"""Training: a point's data (`data`), the loop, checkpoints that save and restore the training state, and the
device it runs on."""
