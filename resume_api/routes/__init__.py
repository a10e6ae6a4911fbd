"""HTTP routes: the API itself, and the memory endpoints."""
