"""Every outcome a report row can have, with a device parameter and planted markup."""
import pytest
from hypothesis import given
from hypothesis import strategies as st

from conformance.check import expect_equal

invariant = pytest.mark.invariant


class Handle:
    """Stands in for the live handle (``conformance.handle``): a failure reads its call and reproducer."""

    cls = None
    namespace: dict = {}

    def __init__(self, call):
        self.call = call

    def reproducer(self):
        return "import torch\n\nroot = torch.nn.Module()\n" + self.call + "\n"


@invariant("traversal.named_modules.preorder")
@pytest.mark.parametrize("device", ["cpu", "meta"])
@given(x=st.integers(0, 10))
def test_passes(device, x):
    assert x >= 0


@invariant("traversal.modules.dedup")
@given(x=st.integers(0, 10))
def test_conformance_failure(x):
    expect_equal([x], [x] if x < 3 else [], Handle("print(list(root.modules()))"))


@invariant("sd.order")
def test_known_deviation():
    expect_equal(["b", "a"], ["a", "b"], Handle("print(list(root.state_dict()))"))


@invariant("sd.order")
def test_skipped():
    pytest.skip("needs an accelerator")


@pytest.fixture
def broken():
    raise RuntimeError("fixture set-up failed")


@invariant("sd.prefix_verbatim")
def test_setup_error(broken):
    pass


@invariant("traversal.children.immediate_and_dedup")
@pytest.mark.parametrize("name", ["<script>alert(1)</script>"])
def test_planted_markup(name):
    raise KeyError(f"<b>{name}</b> | `key` not found")


def test_without_invariant():
    pass
