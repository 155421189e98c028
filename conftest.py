"""nnconform's pytest entry point: the conformance plugin (and, when present, the report plugin)."""
pytest_plugins = ["conformance.plugin"]
