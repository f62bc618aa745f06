"""How an event is named: (run, subrun, event) within one file, with the sample in front across files.

Images, the event index, predictions and the bootstrap's event order all key on these columns.
"""

FILE_EVENT_KEY = ("run", "subrun", "event")
EVENT_KEY = ("sample", *FILE_EVENT_KEY)
