"""History and trend: the store of judged runs, the across-runs trend decision, its plots, page."""
