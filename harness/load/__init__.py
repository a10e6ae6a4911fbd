"""Load: Locust users, load shapes and the payloads they send."""
