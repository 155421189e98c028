"""Backends: how a blueprint becomes live objects (``--backend``, default ``eager``).

Eager torch is the only backend so far. Wrappers that promise Module behaviour (compile, jit,
fx, export, DDP) or adapters for other frameworks would be further entries here; tests get the
backend from the ``backend`` fixture and never build modules themselves.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from conformance.build import Graph, build


@dataclass(frozen=True)
class Backend:
    name: str
    description: str
    build: Callable[..., Graph]  # (blueprint, device=None) -> Graph


BACKENDS = {"eager": Backend("eager", "eager torch.nn.Module", build)}
