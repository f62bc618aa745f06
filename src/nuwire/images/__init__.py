"""Event images: rendering planes into 8-bit pixels, their run-length Parquet store, views a model sees, the in-RAM set."""
