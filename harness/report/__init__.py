"""Reports: one module per format, all rendered from one `Analysis`."""
