"""One run: boot the target, drive the load, sample, write the run directory (leak_run.Run)."""
