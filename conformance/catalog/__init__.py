"""Invariant entries, one module per source; each module defines ``INVARIANTS``."""
