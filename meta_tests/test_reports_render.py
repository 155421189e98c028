"""The report renders: Markdown and HTML from a saved report, with every name escaped.

``report_fixtures/planted.json`` is a report of the synthetic suite (``report_fixtures/suite``)
with markup planted where a run could put it: a test id, a module/key name in a message, a
reproducer that closes its own ``<pre>``, a device name, a deviation reason.
"""
import copy
import json
import re
from html.parser import HTMLParser
from pathlib import Path

import pytest

from reports import render, schema

PLANTED = Path(__file__).parent / "report_fixtures" / "planted.json"
MARKUP = ("<script>", "<img src=x", "<iframe>", "<i>meta</i>", "<b>order</b>", "</code></pre><script>")


@pytest.fixture
def doc():
    return schema.validate(json.loads(PLANTED.read_text()))


class Elements(HTMLParser):
    """Tags as a browser's parser sees them, and the text of the matrix cells."""

    def __init__(self, text):
        super().__init__()
        self.tags, self.cells, self._cell = [], [], None
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        self.tags.append((tag, attrs))
        if tag == "td" and "cell" in (attrs.get("class") or "").split():
            self._cell = [attrs["class"].split()[1], ""]
            self.cells.append(self._cell)

    def handle_endtag(self, tag):
        if tag == "td":
            self._cell = None

    def handle_data(self, data):
        if self._cell is not None:
            self._cell[1] += data


def test_html_shows_planted_markup_as_text(doc):
    page = render.html(doc)
    tags = {tag for tag, _ in Elements(page).tags}
    assert not tags & {"script", "img", "iframe", "i", "link"}, tags
    for text in MARKUP:
        assert text not in page, f"{text!r} reached the HTML unescaped"
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "&lt;/code&gt;&lt;/pre&gt;&lt;script&gt;alert(2)" in page


def test_html_is_standalone(doc):
    page = render.html(doc)
    for tag, attrs in Elements(page).tags:
        assert "src" not in attrs, (tag, attrs)
        assert tag != "a" or attrs["href"].startswith(("#", "https://")), attrs
    assert "default-src 'none'" in page  # the CSP: nothing loads, nothing runs


def test_matrix_cells_coloured_by_worst_outcome(doc):
    cells = Elements(render.html(doc)).cells
    matrix = cells[len(schema.SEVERITY) + 1:]  # after the legend
    invariants = sorted({r["invariant"] for r in doc["rows"]}, key=str)
    assert len(matrix) == len(invariants) * len(render.columns(doc))
    by_class = {}
    for cls, text in matrix:
        by_class.setdefault(cls, []).append(text.strip())
    assert by_class["xfailed"] == ["x 1/2"]  # sd.order: one known deviation beside one skip
    assert sorted(by_class["failed"]) == ["✗", "✗"] and by_class["error"] == ["E"]
    assert len(by_class["passed"]) == 3  # cpu, the planted device, and the test without invariant


def test_matrix_has_a_column_per_backend_and_device_when_several_backends(doc):
    other = copy.deepcopy(doc["rows"][2])
    other.update(test=other["test"] + "-jit", backend="jit", outcome="failed",
                 failure={"phase": "call", "message": "boom", "reproducer": None, "doc": None, "example": None})
    doc["rows"].append(other)
    page = render.html(doc)
    assert "<th>jit / cpu</th>" in page and "<th>eager / cpu</th>" in page


def test_failures_expand_to_their_reproducer(doc):
    page = render.html(doc)
    failing = [r for r in doc["rows"] if r["outcome"] in ("failed", "error", "xfailed")]
    assert page.count("<details id=") == len(failing)
    assert page.count('<pre class="repro">') == sum(bool(r["failure"]["reproducer"]) for r in failing)
    assert 'href="#t0"' in page  # the failing cell links to its details


def test_markdown_summary_failures_and_deviations(doc):
    text = render.markdown(doc)
    assert "| traversal | documented | 2 | 2 | 0 | 0 | 0 | 0 |" in text
    assert "```python\nimport torch\n" in text
    assert "### failed: `test_basic.py::test_conformance_failure`" in text
    assert "state_dict key &lt;b&gt;order&lt;/b&gt; &amp; co" in text  # a table cell: markup as text
    for table in re.findall(r"(?:^\|.*\n)+", text, re.MULTILINE):  # markup shows as text; pipes escaped
        widths = {len(re.split(r"(?<!\\)\|", line)) for line in table.splitlines()}
        assert "<" not in table and len(widths) == 1, table


def test_markdown_code_fences_outlast_backticks_inside():
    assert render.md_code("a ``` b") == "````\na ``` b\n````"
    assert render.md_inline("x`y") == "``x`y``"
    assert render.md_inline("a|b", table=True) == "`a\\|b`"


def test_incomplete_report_says_so(doc):
    doc["run"].update(complete=False, incomplete_reason="interrupted by SIGTERM")
    assert "INCOMPLETE: interrupted by SIGTERM" in render.markdown(doc)
    assert "INCOMPLETE: interrupted by SIGTERM" in render.html(doc)
    assert "INCOMPLETE" in render.terminal_lines(doc)[0]


def test_terminal_table(doc):
    lines = render.terminal_lines(doc)
    assert lines[0] == "3 passed, 2 failed, 1 error, 1 skipped, 1 xfailed (complete)"
    assert lines[1].split() == ["area", "tier", *schema.OUTCOMES]
    assert any(line.startswith("ERROR   test_basic.py::test_setup_error") for line in lines)


def test_render_command_rewrites_md_and_html(tmp_path, doc):
    source = tmp_path / "report.json"
    source.write_text(json.dumps(doc))
    assert render.main([str(source), str(tmp_path / "out")]) == 0
    assert (tmp_path / "out" / "report.html").read_text() == render.html(doc)
    source.write_text("[]")
    assert render.main([str(source)]) == 2
