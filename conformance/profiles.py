"""Hypothesis profiles (``--hypothesis-profile NAME``, default ``ci``).

``ci``: derandomized, no example database, few examples: two runs give the same results.
``release``: derandomized, many examples, for validating a release.
``dev``: random, with the example database, to hunt for new failures.
``debug``: verbose, few examples, to watch what is drawn.
``survey``: as ``ci`` but failures are not shrunk: a fast first list of what fails on a new
backend (pair it with ``--deviations-draft``).
``soak``: big graphs: every graph a test draws from ``blueprints(...)`` has ``SOAK_NODES`` nodes
(100 or 1,000, drawn per example; ``conformance.harness.draw_graph``), few examples, no shrinking
(a graph of 1,000 nodes is expanded from a seed, Note [choices drawn directly]).
"""
from hypothesis import HealthCheck, Phase, Verbosity, settings

# The explain phase reruns a failing example many times: worth it while debugging, not in CI.
NO_EXPLAIN = tuple(p for p in Phase if p is not Phase.explain)
# filter_too_much: a backend's documented preconditions (``Backend.admits``: DDP needs a parameter
# that requires grad, tracing wrappers a callable root) discard draws; the strategies' own
# feature rates are checked by meta_tests/test_strategies.py instead.
_COMMON = dict(deadline=None, print_blob=True,
               suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much])

PROFILES = {
    "ci": dict(derandomize=True, database=None, max_examples=25, print_blob=False, phases=NO_EXPLAIN),
    "release": dict(derandomize=True, database=None, max_examples=400, phases=NO_EXPLAIN),
    "dev": dict(max_examples=100),
    "debug": dict(max_examples=10, verbosity=Verbosity.verbose, database=None),
    "survey": dict(derandomize=True, database=None, max_examples=25, print_blob=False,
                   phases=(Phase.explicit, Phase.reuse, Phase.generate)),
    "soak": dict(derandomize=True, database=None, max_examples=4, print_blob=False,
                 phases=(Phase.explicit, Phase.generate)),
}
SOAK_NODES = (100, 1000)
DEFAULT = "ci"

for _name, _options in PROFILES.items():
    settings.register_profile(_name, **{**_COMMON, **_options})
