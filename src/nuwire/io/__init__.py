"""Reading and writing files: OpenSamples HDF5 (schema, reader, writer), input files, Zenodo copies,
the event key, atomic output, and read and write errors named for the user."""
