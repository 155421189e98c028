"""Conformance reports: rows gathered by a pytest plugin, written as JSON, Markdown and HTML.

``plugin`` (the pytest plugin), ``rows`` (pytest reports -> rows), ``runinfo`` (run metadata),
``schema`` (the JSON schema's version and validation; see ``schema.md``), ``render`` (Markdown,
HTML, terminal table), ``output`` (atomic writes), ``compare`` (``python -m reports.compare``).
"""
