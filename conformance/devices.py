"""Devices under test (``--device``): placeholder, filled in by the device work (issue 3)."""
