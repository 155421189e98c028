"""A run to interrupt: one test finishes, the next waits for a signal (NNC_STARTED marks it)."""
import os
import time

import pytest


@pytest.mark.invariant("traversal.modules.dedup")
def test_finishes():
    pass


@pytest.mark.invariant("sd.order")
def test_waits_for_signal():
    with open(os.environ["NNC_STARTED"], "w") as f:
        f.write("started")
    time.sleep(60)
