"""The HTML report opened in real headless Chromium: it renders and every chart image loads."""

from __future__ import annotations

import re
from pathlib import Path

import duckdb

from wfprof_pipeline.lib.cost_model.inputs import read_inputs
from wfprof_pipeline.lib.cost_model.model import compute_cost_model
from wfprof_pipeline.lib.cost_model.report import write_report
from wfprof_pipeline.lib.cost_model.synthetic import build_warehouse, write_registry
from wfprof_pipeline_tests.browser import dump_dom

# Appended to a copy of the report (the report itself has no scripts): after load, record for every image
# whether the browser decoded it, and the rendered size of every chart.
PROBE = """
<script>
window.addEventListener('load', () => {
  const imgs = [...document.images];
  const bad = imgs.filter(i => !(i.complete && i.naturalWidth > 0 && i.getBoundingClientRect().width > 0));
  const out = document.createElement('div');
  out.id = 'probe';
  out.dataset.images = imgs.length;
  out.dataset.loaded = imgs.length - bad.length;
  out.dataset.failed = bad.map(i => i.alt).join('|');
  out.dataset.tables = document.querySelectorAll('table').length;
  out.dataset.height = document.body.scrollHeight;
  document.body.appendChild(out);
});
</script>
"""


def test_report_renders_in_chromium_and_every_chart_loads(tmp_path: Path) -> None:
    write_registry(tmp_path)
    build_warehouse(tmp_path / "w.duckdb", trace_rows=500)
    with duckdb.connect(str(tmp_path / "w.duckdb"), read_only=True) as con:
        model = compute_cost_model(read_inputs(con, tmp_path))
    report = write_report(model, tmp_path / "reports")
    probed = tmp_path / "probed.html"
    probed.write_text(report.read_text().replace("</body>", PROBE + "</body>"))

    dom = dump_dom(probed.as_uri(), profile_dir=tmp_path / "chrome")
    probe = re.search(r'<div id="probe"([^>]*)>', dom)
    assert probe, "the page did not finish loading in Chromium"
    attrs = dict(re.findall(r'data-(\w+)="([^"]*)"', probe.group(1)))
    assert int(attrs["images"]) == 6
    assert attrs["loaded"] == attrs["images"], f"charts that did not load: {attrs['failed']}"
    assert int(attrs["tables"]) >= 6 and int(attrs["height"]) > 2_000
    assert "wfprof cost report" in dom


def test_a_broken_chart_is_detected(tmp_path: Path) -> None:
    """The probe can fail: an image whose data is not an SVG is reported as not loaded."""
    page = tmp_path / "broken.html"
    page.write_text("<html><body><img alt='ok' src='data:image/svg+xml;base64,"
                    "PHN2ZyB4bWxucz0naHR0cDovL3d3dy53My5vcmcvMjAwMC9zdmcnIHdpZHRoPSc0JyBoZWlnaHQ9JzQnLz4='>"
                    "<img alt='broken' src='data:image/svg+xml;base64,bm90IGFuIHN2Zw=='>" + PROBE + "</body></html>")
    dom = dump_dom(page.as_uri(), profile_dir=tmp_path / "chrome")
    attrs = dict(re.findall(r'data-(\w+)="([^"]*)"', re.search(r'<div id="probe"([^>]*)>', dom).group(1)))
    assert (attrs["images"], attrs["loaded"], attrs["failed"]) == ("2", "1", "broken")
