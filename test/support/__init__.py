"""Helpers shared by the integration and memory tests: the bundled service as a real process,
and a small asyncio driver that sends it realistic requests."""
