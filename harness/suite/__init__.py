"""Suite and sign-off: a suite's results and index page, the release sign-off decision and page."""
