"""Report plugin: placeholder, filled in by the report work (issue 4)."""
