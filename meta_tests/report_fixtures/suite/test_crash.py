"""A worker that dies mid-test, between tests that pass."""
import os

import pytest


@pytest.mark.invariant("traversal.modules.dedup")
def test_before():
    pass


@pytest.mark.invariant("sd.order")
def test_worker_dies():
    os._exit(3)


@pytest.mark.invariant("sd.order")
def test_after():
    pass
