"""Sampling: the memory and resource time series of a run, and heap snapshots."""
