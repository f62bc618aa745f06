"""How an event is named: (run, subrun, event) within one file, with the sample in front across files.

Images, the event index, predictions and the bootstrap's event order all key on these columns.
"""

FILE_EVENT_KEY = ("run", "subrun", "event")
EVENT_KEY = ("sample", *FILE_EVENT_KEY)

# The OpenSamples sample groups, a file's name up to its first `_` (nuwire.io.inputs.sample_group):
# the inclusive BNB sample and the νe-enriched one. The schema's synthetic.samples names them too
# (a test keeps the two equal).
INCLUSIVE_SAMPLE, NUE_SAMPLE = "bnb", "nue"
SAMPLE_GROUPS = (INCLUSIVE_SAMPLE, NUE_SAMPLE)
