"""A small conformance-like suite for the report plugin's own tests (run with ``-p reports.plugin``).

It mimics what ``conformance.plugin`` and the device plugin attach to items (``invariant``,
``device`` and ``deviation`` user properties, the xfail of a known deviation, the current
invariant for ``conformance.check`` messages) without importing torch, so each run is quick.
"""
import pytest
from hypothesis import settings

from conformance import check
from conformance.registry import REGISTRY

settings.register_profile("synthetic", derandomize=True, database=None, max_examples=10, deadline=None)
settings.load_profile("synthetic")

DEVIATIONS = {"test_basic.py::test_known_deviation": "accepted for this release"}


def pytest_collection_modifyitems(items):
    for item in items:
        marker = item.get_closest_marker("invariant")
        if marker:
            item.user_properties.append(("invariant", marker.args[0]))
        device = getattr(item, "callspec", None) and item.callspec.params.get("device")
        if device:
            item.user_properties.append(("device", device))
        if item.nodeid in DEVIATIONS:
            item.add_marker(pytest.mark.xfail(reason=f"known deviation: {DEVIATIONS[item.nodeid]}", strict=False))
            item.user_properties.append(("deviation", DEVIATIONS[item.nodeid]))
            item.user_properties.append(("deviation_line", "deviations/synthetic.txt:7"))


@pytest.fixture(autouse=True)
def _current_invariant(request):
    marker = request.node.get_closest_marker("invariant")
    token = check.current.set(REGISTRY.get(marker.args[0]) if marker else None)
    yield
    check.current.reset(token)


def pytest_configure(config):
    config.addinivalue_line("markers", "invariant(id): the registered invariant a test checks")
