"""A faithful model of the AI Resume Advisor API, the service the harness is proven on.

Its known leak patterns can be switched on one at a time (see `resume_api.leaks`); with every
switch off it must not leak.
"""

from __future__ import annotations

__version__ = "2.1.0"
