"""Detector systematics: variations applied to the wire ADC, scoring of the varied test events, and the paired delta statistics."""
