"""Evaluating a trained point: scores, metrics, occlusion and interpretation, and their figures."""
