"""nnconform's pytest entry point: the conformance, device, report and API-call plugins."""
pytest_plugins = ["conformance.plugin", "conformance.devices", "reports.plugin", "conformance.apicalls"]
