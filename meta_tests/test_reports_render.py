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


# --- unexpected passes, banner, skips, absent devices, doc drift ------------------------------

KNOWN = "test_basic.py::test_known_deviation"
STRICT = ("unexpected pass of a known deviation: {where} claims 'sd.order' fails (order differs), but this test "
          "passed; its evidence script no longer reproduces it: fixed upstream: retire the line. "
          "(evidence: evidence/order.py; --deviations-mode lenient reports this without failing)")


def _row(doc, test):
    return next(r for r in doc["rows"] if r["test"] == test)


def _passed_anyway(doc, test, where, *, strict=False, reason="order differs", pattern="sd.order"):
    """``test`` passed although the deviations line at ``where`` claims it fails (xpassed, or strict mode's failure)."""
    row = _row(doc, test)
    row.update(outcome="failed" if strict else "xpassed", skip_reason=None, failure=None,
               deviation={"pattern": pattern, "reason": reason, "evidence": "evidence/order.py", "where": where})
    if strict:
        row["failure"] = {"phase": "call", "message": STRICT.format(where=where), "reproducer": None, "doc": None,
                          "example": None}
    return row


def _plant_unexpected_passes(doc):
    _passed_anyway(doc, KNOWN, "conformance/deviations/eager.txt:12")
    _passed_anyway(doc, "test_basic.py::test_passes[cpu]", "conformance/deviations/eager.txt:3", strict=True)
    _passed_anyway(doc, "test_basic.py::test_passes[meta]", "conformance/deviations/eager.txt:12")
    return schema.validate(doc)


def test_markdown_opens_with_unexpected_passes_grouped_by_line(doc):
    text = render.markdown(_plant_unexpected_passes(doc))
    section = text.split("## Fixed deviations / unexpected passes (3 tests, 2 deviations lines)\n")[1]
    section = section.split("## Summary by area and tier")[0]
    assert text.index("## Fixed deviations") < text.index("## Summary by area and tier")
    assert section.index("### `conformance/deviations/eager.txt:3`") < section.index(
        "### `conformance/deviations/eager.txt:12`")
    line3, line12 = section.split("### `conformance/deviations/eager.txt:12`")
    assert ("- evidence: `evidence/order.py`: its evidence script no longer reproduces it: fixed upstream: retire the "
            "line\n- passed unexpectedly:\n  - `test_basic.py::test_passes[cpu]` (failed)\n") in line3, line3
    assert ("- pattern: `sd.order`\n- reason: order differs\n- evidence: `evidence/order.py`\n- passed unexpectedly:\n"
            f"  - `{KNOWN}` (xpassed)\n  - `test_basic.py::test_passes[meta]` (xpassed)\n") in line12, line12


def test_strict_failure_of_an_older_report_is_grouped_by_the_line_its_message_names(doc):
    row = _passed_anyway(doc, KNOWN, "/tmp/devs.txt:2", strict=True)
    del row["deviation"]["where"]  # a report written before deviation.where existed
    text = render.markdown(schema.validate(doc))
    assert "## Fixed deviations / unexpected passes (1 tests, 1 deviations lines)\n" in text
    assert "### `/tmp/devs.txt:2`\n\n- pattern: `sd.order`" in text and f"  - `{KNOWN}` (failed)" in text


def test_html_groups_unexpected_passes_by_line(doc):
    page = render.html(_plant_unexpected_passes(doc))
    section = page.split('<h2 id="unexpected">')[1].split("<h2>")[0]
    assert section.count('<section class="retire">') == 2
    first, second = section.split('<section class="retire">')[1:]
    assert "<h3><code>conformance/deviations/eager.txt:3</code></h3>" in first
    assert "test_basic.py::test_passes[cpu]</code> (<a href=\"#t" in first  # the strict failure links to its details
    assert "fixed upstream: retire the line" in first
    assert "<h3><code>conformance/deviations/eager.txt:12</code></h3>" in second
    assert second.count("<li>") == 2 and "(xpassed)" in second


def test_unexpected_pass_text_is_escaped(doc):
    _passed_anyway(doc, KNOWN, "<script>x.txt:1", reason="<img src=x> ![a](https://evil.example/p.png)",
                   pattern="<iframe>")
    doc = schema.validate(doc)
    page = render.html(doc)
    assert not {tag for tag, _ in Elements(page).tags} & {"script", "img", "iframe"}
    text = render.markdown(doc)
    section = text.split("## Fixed deviations")[1].split("## Summary")[0]
    assert "<img" not in section and "](" not in section.replace("\\](", ""), section


def test_no_unexpected_pass_section_without_one(doc):
    assert "Fixed deviations" not in render.markdown(doc) and 'id="unexpected"' not in render.html(doc)


def _banner(doc):
    return next(attrs["class"] for tag, attrs in Elements(render.html(doc)).tags if attrs.get("id") == "status")


def test_banner_red_for_failures_distinct_for_incomplete_green_when_clean(doc):
    assert _banner(doc) == "banner failed"
    doc["run"].update(complete=False, incomplete_reason="interrupted by SIGTERM")
    assert _banner(doc) == "banner incomplete"
    doc["run"].update(complete=True, incomplete_reason=None)
    doc["rows"] = [r for r in doc["rows"] if r["outcome"] not in ("failed", "error")]
    assert _banner(doc) == "banner passed"
    assert ".banner.failed {" in render.CSS and ".banner.incomplete {" in render.CSS


def test_html_counts_skips_per_reason(doc):
    for test in (KNOWN, "test_basic.py::test_passes[cpu]"):
        _row(doc, test).update(outcome="skipped", failure=None, deviation=None, skip_reason="waits for a GPU")
    page = render.html(schema.validate(doc))
    table = page.split('<table id="skips">')[1].split("</table>")[0]
    assert "<h2>Skipped (3)</h2>" in page
    assert table.index("<td>waits for a GPU</td><td>2</td>") < table.index(
        "<td>needs an accelerator</td><td>1</td>"), table


def test_html_lists_absent_devices(doc):
    _row(doc, KNOWN).update(outcome="skipped", failure=None, deviation=None, devices=["cpu->cuda"],
                            skip_reason="device not present: cuda: this torch is built without CUDA")
    doc["run"]["options"]["device"] = "cpu,xpu:1"
    page = render.html(schema.validate(doc))
    block = page.split('<div id="absent-devices">')[1].split("</div>")[0]
    assert "<li><code>cuda</code>: device not present: cuda: this torch is built without CUDA</li>" in block
    assert "<li><code>xpu:1</code>: asked for with --device; no test ran on it</li>" in block
    assert "<code>cpu</code>" not in block and "meta" not in block  # tests ran there


def test_no_absent_devices_block_when_every_device_ran(doc):
    assert 'id="absent-devices"' not in render.html(doc)


DRIFT = {"checked": 90, "unchecked": 10, "drift": [
    {"invariant": "sd.order", "ref": "torch.nn.Module.state_dict", "status": "changed", "quote": "<b>keys</b> | x",
     "detail": "'keys' is not in the docstring"}]}


def test_doc_drift_rendered_when_present(doc):
    doc["doc_drift"] = DRIFT
    doc = schema.validate(doc)
    text = render.markdown(doc)
    assert "## Documentation drift\n\n1 invariants quote documentation the installed torch no longer has (90 checked" in text
    assert ("| `sd.order` | changed | torch.nn.Module.state_dict | &lt;b&gt;keys&lt;/b&gt; \\| x | "
            "'keys' is not in the docstring |") in text
    page = render.html(doc)
    assert '<table id="doc-drift">' in page and "&lt;b&gt;keys&lt;/b&gt;" in page


@pytest.mark.parametrize("drift", [None, {"checked": 3, "unchecked": 0, "drift": []}], ids=["absent", "empty"])
def test_no_doc_drift_section_without_drift(doc, drift):
    if drift is not None:
        doc["doc_drift"] = drift
    assert "Documentation drift" not in render.markdown(doc) and "Documentation drift" not in render.html(doc)


def test_doc_drift_check_failure_is_shown(doc):
    doc["doc_drift"] = {"error": "RuntimeError('<boom>')"}
    assert "The doc drift check failed: RuntimeError('&lt;boom&gt;')" in render.markdown(doc)
    assert "The doc drift check failed: RuntimeError(&#x27;&lt;boom&gt;&#x27;)" in render.html(doc)


def test_api_coverage_section_and_validation(doc):
    """The report's ``api_coverage`` renders in Markdown and HTML; a malformed one is refused."""
    assert "## API coverage" not in render.markdown(doc)
    counts = {"covered": 3, "out_of_scope": 1, "missing": 2, "total": 6}
    doc["api_coverage"] = {"totals": {k: dict(counts) for k in ("methods", "overloads", "parameters")},
                           "gaps": ["torch.nn.Module.cuda: parameter device"], "steps": 9,
                           "file": "api-coverage.json"}
    schema.validate(doc)
    md = render.markdown(doc)
    assert "## API coverage" in md and "3/5 methods" in md and "torch.nn.Module.cuda: parameter device" in md
    assert 'id="api-coverage"' in render.html(doc)
    doc["api_coverage"]["gaps"] = "everything"
    with pytest.raises(schema.SchemaError, match="api_coverage.gaps"):
        schema.validate(doc)
