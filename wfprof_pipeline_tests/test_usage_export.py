"""`wfprof export usage|prices` and `wfprof report --scenarios` on a real DuckDB file; CloudEvents parsed with the
`cloudevents` SDK."""

from __future__ import annotations

import csv
import io
import json

import duckdb
import pytest
from cloudevents.core.formats.json import JSONFormat

from wfprof_pipeline.cli import main
from wfprof_pipeline.lib import warehouse as wh
from wfprof_pipeline.lib.cost_model.policy import PricingPolicy, parse_policy
from wfprof_pipeline.lib.usage import costs, scenarios
from wfprof_pipeline.lib.usage.export import CSV_COLUMNS, METER_TYPE, event_id
from wfprof_pipeline.lib.usage.tables import EXECUTION_COSTS, NO_USER_SUBJECT, PRICING_SCENARIOS
from wfprof_pipeline_tests import usage_fixtures as fx


def _write(path, policy: PricingPolicy) -> None:
    if not path.exists():
        fx.write_warehouse(path)
    frame = costs.execution_costs(fx.EXECUTIONS, fx.STEP_RUNS, fx.PRICES, policy)
    with wh.session(path) as con:
        wh.replace_table(con, EXECUTION_COSTS, frame)
        wh.replace_table(con, PRICING_SCENARIOS, scenarios.pricing_scenarios(frame, policy))


def _export(path, capsys, *args: str) -> str:
    assert main(["export", "usage", "--warehouse", str(path), *args]) == 0
    return capsys.readouterr().out


def _events(text: str) -> list:
    batch = json.loads(text)
    assert isinstance(batch, list)
    return [JSONFormat().read(None, json.dumps(item)) for item in batch]  # the SDK validates each event


def test_cloudevents_batch_parses_with_the_sdk_one_event_per_execution(warehouse_path, capsys):
    _write(warehouse_path, PricingPolicy())
    events = _events(_export(warehouse_path, capsys, "--from", str(fx.DAY1), "--to", str(fx.DAY2)))
    assert [e.get_data()["execution_id"] for e in events] == ["e1", "e2", "e3", "e4"]
    e1 = events[0]
    assert (e1.get_specversion(), e1.get_type(), e1.get_subject()) == ("1.0", METER_TYPE, "alice")
    assert e1.get_data() == {"execution_id": "e1", "workflow_id": "wf_a", "units": 6.0, "steps": 3,
                             "status": "success", "compute_ms": 23.0}
    assert e1.get_time().isoformat() == "2026-03-02T09:00:00+00:00"
    assert e1.get_id() == event_id("e1", PricingPolicy().digest())
    assert e1.get_extension("wfprofpolicy") == PricingPolicy().digest()
    assert events[3].get_subject() == NO_USER_SUBJECT  # no user id: its own bucket


def test_ids_are_stable_across_exports_and_change_with_the_policy(warehouse_path, capsys):
    _write(warehouse_path, PricingPolicy())
    first = [e.get_id() for e in _events(_export(warehouse_path, capsys, "--day", str(fx.DAY1)))]
    again = [e.get_id() for e in _events(_export(warehouse_path, capsys, "--day", str(fx.DAY1)))]
    assert first == again and len(set(first)) == 3
    _write(warehouse_path, parse_policy({"usage": {"trigger_units": 2}}))
    changed = [e.get_id() for e in _events(_export(warehouse_path, capsys, "--day", str(fx.DAY1)))]
    assert not set(changed) & set(first)


def test_csv_has_the_same_fields(warehouse_path, capsys):
    _write(warehouse_path, PricingPolicy())
    rows = list(csv.DictReader(io.StringIO(_export(warehouse_path, capsys, "--day", str(fx.DAY2), "--format", "csv"))))
    assert list(rows[0]) == list(CSV_COLUMNS)
    assert [(r["subject"], r["workflow_id"], r["units"], r["steps"], r["status"]) for r in rows] == [
        (NO_USER_SUBJECT, "wf_b", "0.0", "2", "success")]


def test_a_day_without_traces_is_an_empty_batch_and_exit_0(warehouse_path, capsys):
    _write(warehouse_path, PricingPolicy())
    assert main(["export", "usage", "--warehouse", str(warehouse_path), "--day", "2026-03-09"]) == 0
    out = capsys.readouterr()
    assert json.loads(out.out) == [] and "no ingested traces on 2026-03-09" in out.err


def test_traced_but_unpriced_days_are_an_error_not_an_empty_batch(warehouse_path, capsys):
    fx.write_warehouse(warehouse_path)  # traces, no execution_costs
    assert main(["export", "usage", "--warehouse", str(warehouse_path), "--day", str(fx.DAY1)]) == 2
    err = capsys.readouterr().err
    assert "3 execution(s) traced on 2026-03-02 are not priced yet" in err and len(err.strip().splitlines()) == 1


def test_writes_to_a_file(warehouse_path, tmp_path, capsys):
    _write(warehouse_path, PricingPolicy())
    out = tmp_path / "usage.json"
    assert main(["export", "usage", "--warehouse", str(warehouse_path), "--day", str(fx.DAY1),
                 "--output", str(out)]) == 0
    assert len(_events(out.read_text())) == 3 and "wrote 3 event(s)" in capsys.readouterr().err


@pytest.mark.parametrize("target", ["missing-dir/usage.json", "a-directory"])
def test_an_unwritable_path_is_a_one_line_error(warehouse_path, tmp_path, capsys, target):
    _write(warehouse_path, PricingPolicy())
    (tmp_path / "a-directory").mkdir()  # (the tests may run as root: a read-only mode would not stop it)
    code = main(["export", "usage", "--warehouse", str(warehouse_path), "--day", str(fx.DAY1),
                 "--output", str(tmp_path / target)])
    err = capsys.readouterr().err
    assert code == 2 and err.startswith("wfprof: error: cannot write ") and len(err.strip().splitlines()) == 1


@pytest.mark.parametrize(("args", "message"), [
    (["--day", "2026-13-01"], "--from/--day"),
    (["--from", "2026-03-03"], "--from needs --to"),
    (["--from", "2026-03-03", "--to", "2026-03-01"], "is before --from"),
])
def test_bad_days_are_one_line_errors(warehouse_path, capsys, args, message):
    _write(warehouse_path, PricingPolicy())
    assert main(["export", "usage", "--warehouse", str(warehouse_path), *args]) == 2
    assert message in capsys.readouterr().err


def test_price_book_has_the_policy_digest_and_units_per_step_type(warehouse_path, tmp_path, capsys):
    fx.write_warehouse(warehouse_path)
    with duckdb.connect(str(warehouse_path)) as con:  # step_pricing as the asset writes it
        con.execute("alter table step_pricing add column tier varchar; alter table step_pricing add column "
                    "io_class varchar; alter table step_pricing add column io_operations double; "
                    "alter table step_pricing add column coverage varchar")
    out = tmp_path / "prices.json"
    assert main(["export", "prices", "--warehouse", str(warehouse_path), "--output", str(out)]) == 0
    book = json.loads(out.read_text())
    assert book["policy_digest"] == PricingPolicy().digest() and book["trigger_units"] == 0
    assert [(s["step_type"], s["step_id"], s["total_units"]) for s in book["step_types"]] == [
        ("x", "x", 3.0), ("x", "x-variant", 99.0)]
    assert book["policy"]["usage"]["charge_failed"] == "steps_run"


def test_report_scenarios_prints_every_model(warehouse_path, capsys, monkeypatch, tmp_path):
    _write(warehouse_path, PricingPolicy())
    monkeypatch.setenv("WFPROF_REPORTS_DIR", str(tmp_path / "reports"))
    assert main(["report", "--warehouse", str(warehouse_path), "--scenarios", "--no-html"]) == 0
    out = capsys.readouterr().out
    for model in ("units", "per_execution", "per_step_and_run", "compute_seconds", "cpu_ms"):
        assert model in out
    assert "alice" in out and "2026-02-02 … 2026-03-03" in out
