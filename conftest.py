"""nnconform's pytest entry point: the conformance, device and report plugins."""
pytest_plugins = ["conformance.plugin", "conformance.devices", "reports.plugin"]
