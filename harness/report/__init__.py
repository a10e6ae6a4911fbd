"""One run's reports: a module per format, all from one `Analysis`, and the shared page helpers."""
