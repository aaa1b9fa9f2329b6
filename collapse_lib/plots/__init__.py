"""Figures of the chapters: each function takes an experiment's result and returns a
matplotlib Figure, so the notebooks and the command line draw the same pictures."""
