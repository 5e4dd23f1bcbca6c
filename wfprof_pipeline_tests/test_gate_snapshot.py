"""`wfprof snapshot`: deterministic, versioned, no Node-internal counts; `wfprof gate` on snapshot files:
limits from flags and the policy's `[gate]` table, exit codes, JUnit, and every bad input."""

from __future__ import annotations

import json
import re
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from wfprof_pipeline.cli import main
from wfprof_pipeline.lib.cost_model.policy import PricingPolicy, load_policy
from wfprof_pipeline.lib.gate import limits as lim
from wfprof_pipeline.lib.gate import models, render
from wfprof_pipeline.lib.gate.compare import compare
from wfprof_pipeline.lib.gate.snapshot import SnapshotOptions, build_snapshot
from wfprof_pipeline_tests.dagster_env import BIN, PROJECT_ROOT
from wfprof_pipeline_tests.test_gate import make_repo, parse_junit

SAMPLE = PROJECT_ROOT / "data" / "steps"
FEW = ["webhook/send-webhook", "math/aggregate"]


def _normalized(text: str) -> str:
    text = re.sub(r'"created_at": "[^"]*"', '"created_at": "T"', text)
    return re.sub(r'"tool_version": "[^"]*"', '"tool_version": "V"', text)


def test_ten_snapshots_of_an_unchanged_tree_are_identical() -> None:
    options = SnapshotOptions(sections=("static", "steps"), steps=FEW)
    texts = [models.dump(build_snapshot(SAMPLE, None, PricingPolicy(), options)) for _ in range(10)]
    assert len({_normalized(t) for t in texts}) == 1
    doc = json.loads(texts[0])
    assert doc["schema_version"] == models.SCHEMA_VERSION and doc["kind"] == "wfprof-snapshot"
    assert sorted(doc["steps"]) == sorted(FEW) and len(doc["files"]) == 11
    # What differs between the texts is only the timestamp.
    assert {re.sub(r'"created_at": "[^"]*"', "", t) for t in texts} == {re.sub(r'"created_at": "[^"]*"', "",
                                                                                texts[0])}


@pytest.mark.slow
def test_the_whole_snapshot_twice_through_the_cli(tmp_path: Path) -> None:
    import os

    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    outs = []
    for i in range(2):
        out = tmp_path / f"s{i}.json"
        proc = subprocess.run([str(BIN / "wfprof"), "snapshot", "--output", str(out)], cwd=PROJECT_ROOT, env=env,
                              capture_output=True, text=True, timeout=300)
        assert proc.returncode == 0, proc.stderr[-2000:]
        outs.append(out.read_text())
    assert _normalized(outs[0]) == _normalized(outs[1])
    doc = json.loads(outs[0])
    assert doc["sections"] == ["static", "steps", "fuel"]  # no DATABASE_URL: no user-code fuel, and it says so
    assert len(doc["steps"]) == 11 and all(s["status"] == "ok" for s in doc["steps"].values())
    assert len(doc["fuel"]["workloads"]) >= 20
    transfer = doc["steps"]["web3/transfer-funds"]
    assert transfer["io_operations"] == 8 and transfer["io_class"] == "chain_write"
    assert transfer["io_requests"][0]["rpc_methods"]["eth_sendRawTransaction"] == 1
    assert doc["tree"]["lockfile"] == "package-lock.json" and doc["tree"]["dependencies"]["ethers"] == "6.17.0"
    assert str(PROJECT_ROOT) not in outs[0]  # no paths of this machine


def test_node_internal_counts_never_appear() -> None:
    from wfprof_pipeline.lib.profiling.runner import ProfileOptions, profile_steps
    from wfprof_pipeline.lib.profiling.summary import summarize
    from wfprof_pipeline.lib.registry import load_for_root

    (row,) = [r for r in summarize(profile_steps(load_for_root(SAMPLE), ["webhook/send-webhook"],
                                                 ProfileOptions(modes=("precise",), repeat=1))).profiles
              if r.phase == "import"]
    assert row.calls_node_internals > 1000  # what a fetch step's import costs in Node internals
    snap = build_snapshot(SAMPLE, None, PricingPolicy(), SnapshotOptions(sections=("steps",), steps=FEW))
    webhook = snap.steps["webhook/send-webhook"]
    assert webhook.calls == sum(p.own + p.packages for p in webhook.phases.values()) == 9
    assert webhook.phases["import"].own + webhook.phases["import"].packages == row.calls_own + row.calls_packages
    text = models.dump(snap)
    assert not re.search(r"node_internal|calls_node|calls_total|\"node\"|duration|_ms\"", text)
    assert snap.pricing.tier_basis == "own_packages" and snap.pricing.policy_basis == "cost_calls"
    result = compare(snap, snap, lim.resolve())
    out = render.markdown(result) + render.as_json(result) + render.junit(result)
    assert not re.search(r"node_internal|calls_node|node:", out)


def test_user_code_fuel_per_stored_code_node(embedded_db: str) -> None:
    from wfprof_pipeline.lib import postgres
    from wfprof_pipeline.lib.workflows.schema import create_schema

    nodes = [{"id": "t", "type": "trigger", "data": {"config": {}}},
             {"id": "c1", "type": "action", "data": {"label": "sum", "config": {
                 "actionType": "code/run-code", "inputs": {"n": 50},
                 "code": "let s = 0; for (let i = 0; i < inputs.n; i++) s += i; return s;"}}}]
    with postgres.connect(embedded_db) as conn:
        create_schema(conn)
        conn.execute("insert into workflows (id, name, user_id, nodes) values ('wf1', 'w', 'u', %s::jsonb)",
                     [json.dumps(nodes)])
        conn.commit()
    options = SnapshotOptions(sections=("user_code",), database_url=embedded_db)
    a, b = (build_snapshot(SAMPLE, None, PricingPolicy(), options) for _ in range(2))
    assert a.sections == ["user_code"]
    node = a.user_code_fuel["wf1/c1"]
    assert node.success and node.fuel > 1_000_000
    assert _normalized(models.dump(a)) == _normalized(models.dump(b))


# ----------------------------------------------------------------- snapshot files: limits and outputs


@pytest.fixture(scope="module")
def base_snapshot() -> models.Snapshot:
    return build_snapshot(SAMPLE, None, PricingPolicy(), SnapshotOptions(sections=("static", "steps"), steps=FEW))


def _variant(base: models.Snapshot, changes: dict[str, dict[str, object]]) -> models.Snapshot:
    snap = base.model_copy(deep=True)
    for step_id, fields in changes.items():
        for key, value in fields.items():
            setattr(snap.steps[step_id], key, value)
    return snap


def _files(tmp_path: Path, base: models.Snapshot, head: models.Snapshot) -> tuple[str, str]:
    (tmp_path / "base.json").write_text(models.dump(base))
    (tmp_path / "head.json").write_text(models.dump(head))
    return str(tmp_path / "base.json"), str(tmp_path / "head.json")


def test_exit_codes_and_junit_failures_equal_exceeded_limits(tmp_path: Path, base_snapshot, capsys) -> None:
    math_calls = base_snapshot.steps["math/aggregate"].calls
    webhook_units = base_snapshot.steps["webhook/send-webhook"].units
    head = _variant(base_snapshot, {"math/aggregate": {"calls": math_calls + 100},  # +3.4 %: soft
                                    "webhook/send-webhook": {"units": webhook_units + 1}})
    head.files["plugins/math/steps/aggregate.ts"].cyclomatic_complexity += 2  # soft (any growth)
    head.steps["new/step"] = head.steps["math/aggregate"].model_copy()
    base, cur = _files(tmp_path, base_snapshot, head)
    junit = tmp_path / "j.xml"
    code = main(["gate", "--baseline", base, "--current", cur, "--junit", str(junit), "--json"])
    result = json.loads(capsys.readouterr().out)
    assert code == 3  # units +1 is within the default hard +1, so only soft limits are exceeded
    levels = {(f["subject"], f["measure"]): f["level"] for f in result["findings"]}
    assert levels[("math/aggregate", "calls")] == "soft"
    assert levels[("webhook/send-webhook", "units")] == "soft"
    assert levels[("plugins/math/steps/aggregate.ts", "complexity")] == "soft"
    assert result["new"] == {"step": ["new/step"]}  # listed, not a regression
    root = parse_junit(junit)
    assert int(root.get("failures")) == result["exceeded"] == 3
    assert int(root.get("skipped")) == 1
    # Hard limits from the flags; both percent and absolute forms.
    assert main(["gate", "--baseline", base, "--current", cur, "--max-units-increase", "0.5"]) == 1
    assert main(["gate", "--baseline", base, "--current", cur, "--max-increase", "calls=3%"]) == 1
    assert main(["gate", "--baseline", base, "--current", cur, "--max-increase", "complexity=1"]) == 1
    assert main(["gate", "--baseline", base, "--current", cur, "--warn-increase",
                 "calls=5%,units=none,complexity=2"]) == 0
    capsys.readouterr()


def test_limits_from_the_policy_gate_table(tmp_path: Path, base_snapshot, capsys) -> None:
    head = _variant(base_snapshot, {"math/aggregate": {"calls": base_snapshot.steps["math/aggregate"].calls + 100}})
    base, cur = _files(tmp_path, base_snapshot, head)
    policy = tmp_path / "policy.toml"
    policy.write_text('[units]\nheavy = 5\n\n[gate]\nmax_increase = { calls = "3%" }\nwarn_increase = { io = 1 }\n')
    assert load_policy(policy).gate.hard()["calls"] == lim.Limit(value=3, percent=True)
    assert main(["gate", "--baseline", base, "--current", cur, "--policy", str(policy)]) == 1
    # The command line wins over the table.
    assert main(["gate", "--baseline", base, "--current", cur, "--policy", str(policy),
                 "--max-increase", "calls=10%"]) == 3
    out = capsys.readouterr().out
    assert "hard: calls +10%, units +1" in out
    # `wfprof report` still reads a policy with a [gate] table.
    assert load_policy(policy).units.heavy == 5


def test_a_step_failed_on_one_side_is_reported_with_its_own_exit_code(tmp_path: Path, base_snapshot, capsys) -> None:
    head = _variant(base_snapshot, {"webhook/send-webhook": {"status": "failed", "error": "boom", "calls": None}})
    base, cur = _files(tmp_path, base_snapshot, head)
    assert main(["gate", "--baseline", base, "--current", cur, "--junit", str(tmp_path / "j.xml")]) == 4
    out = capsys.readouterr().out
    assert "a step failed to profile (exit 4)" in out and "`webhook/send-webhook` on the head side: boom" in out
    assert ET.parse(tmp_path / "j.xml").getroot().get("errors") == "1"
    # A hard limit elsewhere takes precedence (exit 1), the failure is still listed.
    worse = _variant(head, {"math/aggregate": {"calls": base_snapshot.steps["math/aggregate"].calls * 2}})
    base, cur = _files(tmp_path, base_snapshot, worse)
    assert main(["gate", "--baseline", base, "--current", cur]) == 1
    assert "on the head side: boom" in capsys.readouterr().out


# ----------------------------------------------------------------- bad input: one clear line, exit 2


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("this is not json", "is not JSON"),
        ('{"totalSteps": 3, "plugins": {}}', "is JSON but not a wfprof snapshot"),
        ('{"kind": "wfprof-snapshot", "schema_version": 0}', "has snapshot schema version 0; this wfprof reads "
                                                               "version 1"),
        ('{"kind": "wfprof-snapshot", "schema_version": 1, "steps": []}', "is not a valid wfprof snapshot"),
    ],
)
def test_bad_baselines(tmp_path: Path, capsys, content: str, message: str) -> None:
    baseline = tmp_path / "baseline.json"
    baseline.write_text(content)
    assert main(["gate", "--baseline", str(baseline), "--root", str(SAMPLE)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("wfprof: error: ") and message in err and err.count("\n") == 1


def test_missing_baseline_file(tmp_path: Path, capsys) -> None:
    assert main(["gate", "--baseline", str(tmp_path / "nope.json")]) == 2
    assert "cannot read snapshot" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--max-increase", "calls=ten"], "limit 'ten' for calls is not a number or a percentage"),
        (["--max-increase", "cals=10%"], "unknown measure 'cals'; measures: calls, units"),
        (["--warn-increase", "calls"], "expected MEASURE=LIMIT"),
        (["--max-increase", "calls=-5%"], "is not a number or a percentage"),
        (["--max-units-increase", "lots"], "limit 'lots' for units is not a number"),
    ],
)
def test_limits_that_do_not_parse(tmp_path: Path, capsys, flags: list[str], message: str) -> None:
    assert main(["gate", "--baseline", str(tmp_path / "never-read.json"), *flags]) == 2
    assert message in capsys.readouterr().err


def test_a_policy_gate_table_that_does_not_parse(tmp_path: Path, capsys) -> None:
    policy = tmp_path / "p.toml"
    policy.write_text('[gate]\nmax_increase = { calls = "lots" }\n')
    assert main(["gate", "--baseline", str(tmp_path / "x.json"), "--policy", str(policy)]) == 2
    assert "invalid pricing policy" in capsys.readouterr().err
    policy.write_text("[gate]\nmax_increse = 1\n")
    assert main(["report", "--policy", str(policy)]) == 2
    assert "gate.max_increse" in capsys.readouterr().err


def test_base_ref_naming_no_commit(tmp_path: Path, capsys) -> None:
    repo = make_repo(tmp_path)
    assert main(["gate", "--base-ref", "no-such-branch", "--root", str(repo)]) == 2
    assert "--base-ref 'no-such-branch' names no commit in" in capsys.readouterr().err
    assert main(["gate", "--base-ref=--output=x", "--root", str(repo)]) == 2  # not an option to git
    capsys.readouterr()


def test_base_ref_outside_a_git_repository(tmp_path: Path, capsys) -> None:
    (tmp_path / "plugins").mkdir()
    assert main(["gate", "--base-ref", "HEAD", "--root", str(tmp_path)]) == 2
    assert "needs the step corpus in a git repository" in capsys.readouterr().err


def test_unknown_step_and_section(capsys) -> None:
    assert main(["snapshot", "--root", str(SAMPLE), "--steps", "nope/none"]) == 2
    assert "unknown step id 'nope/none'" in capsys.readouterr().err
    assert main(["snapshot", "--root", str(SAMPLE), "--sections", "static,timings"]) == 2
    assert "--sections: unknown timings" in capsys.readouterr().err
