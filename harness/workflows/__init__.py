"""Things that run runs: the allocator check's reruns, the suite of scenarios."""
