"""The business logic behind each API route, one module per route family."""
