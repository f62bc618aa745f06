"""Reading and writing OpenSamples HDF5: the schema, the reader, the writer, input files, Zenodo copies, atomic output."""
