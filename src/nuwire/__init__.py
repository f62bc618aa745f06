"""nuwire: MicroBooNE OpenSamples wire readouts to sparse event images and CC νe classifiers."""

__version__ = "0.1.0"
