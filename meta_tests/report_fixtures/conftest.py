"""``suite/`` is a synthetic suite that the report tests run in a subprocess, never collected here."""
collect_ignore_glob = ["suite/*"]
