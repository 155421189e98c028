"""Deliberate breaks for the hooks properties (registered into meta_tests.breaks.BREAKS)."""
from __future__ import annotations

from meta_tests.breaks import brk, wrap  # noqa: F401
