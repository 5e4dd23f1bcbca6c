"""The step-source sensor: sha256 of the corpus, a run when code changes, nothing when it does not."""

from __future__ import annotations

import shutil
from pathlib import Path

import dagster as dg

from wfprof_pipeline.definitions import defs
from wfprof_pipeline.defs.resources import StepCorpusResource
from wfprof_pipeline.defs.sensors import step_sources_sensor
from wfprof_pipeline.lib import source_digest

SAMPLE = Path(__file__).resolve().parents[1] / "data" / "steps"


def _corpus(tmp_path: Path) -> Path:
    root = tmp_path / "steps"
    for rel in ("plugins/webhook/steps/send-webhook.ts", "plugins/slack/steps/send-message.ts", "registry.toml",
                "lib/utils.ts"):
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(SAMPLE / rel, root / rel)
    return root


def _tick(root: Path, cursor: str | None):
    ctx = dg.build_sensor_context(cursor=cursor, resources={"step_corpus": StepCorpusResource.pinned(root=str(root))})
    return step_sources_sensor(ctx), ctx.cursor


def test_first_tick_records_a_baseline_then_only_changes_run(tmp_path: Path) -> None:
    root = _corpus(tmp_path)
    result, cursor = _tick(root, None)
    assert isinstance(result, dg.SkipReason) and "baseline recorded: 4 tracked files" in result.skip_message
    result, cursor2 = _tick(root, cursor)
    assert isinstance(result, dg.SkipReason) and "no step source changed" in result.skip_message
    assert cursor2 == cursor

    step = root / "plugins/webhook/steps/send-webhook.ts"
    step.write_text(step.read_text() + "\n// changed\n")
    (root / "plugins/discord/steps").mkdir(parents=True)
    (root / "plugins/discord/steps/new.ts").write_text("export const x = 1;\n")
    result, cursor3 = _tick(root, cursor2)
    assert isinstance(result, dg.RunRequest)
    assert result.tags["wfprof/changed_files"] == ("plugins/discord/steps/new.ts, "
                                                   "plugins/webhook/steps/send-webhook.ts")
    assert source_digest.decode_cursor(cursor3) == source_digest.file_hashes(root)
    # Unchanged content after a run: no new run from this cursor.
    result4, _ = _tick(root, cursor3)
    assert isinstance(result4, dg.SkipReason)


def test_returning_to_an_earlier_state_runs_again(tmp_path: Path) -> None:
    """A→B→A→B: each change is a run. A content-derived run_key would make Dagster drop the second A→B
    (its key was used) and leave the tables measuring A."""
    root = _corpus(tmp_path)
    step = root / "plugins/webhook/steps/send-webhook.ts"
    original = step.read_text()
    _, cursor = _tick(root, None)
    requests = []
    for text in (original + "\n// B\n", original, original + "\n// B\n"):
        step.write_text(text)
        result, cursor = _tick(root, cursor)
        assert isinstance(result, dg.RunRequest)
        requests.append(result)
    assert all(r.run_key is None for r in requests)


def test_registry_and_compiled_in_platform_code_are_tracked(tmp_path: Path) -> None:
    root = _corpus(tmp_path)
    _, cursor = _tick(root, None)
    (root / "lib/utils.ts").write_text("export {};\n")
    result, cursor = _tick(root, cursor)
    assert isinstance(result, dg.RunRequest) and result.tags["wfprof/changed_files"] == "lib/utils.ts"
    (root / "registry.toml").unlink()
    result, _ = _tick(root, cursor)
    assert isinstance(result, dg.RunRequest) and result.tags["wfprof/changed_files"] == "registry.toml"


def test_symlinked_platform_code_is_tracked_through_the_link(tmp_path: Path) -> None:
    root = _corpus(tmp_path)
    outside = tmp_path / "shared-lib"
    (root / "lib").rename(outside)
    (root / "lib").symlink_to(outside)  # e.g. a workspace package linked into the checkout
    _, cursor = _tick(root, None)
    assert "lib/utils.ts" in source_digest.decode_cursor(cursor)
    (outside / "utils.ts").write_text("export const changed = 1;\n")
    result, _ = _tick(root, cursor)
    assert isinstance(result, dg.RunRequest) and result.tags["wfprof/changed_files"] == "lib/utils.ts"


def test_missing_corpus_and_bad_cursor(tmp_path: Path) -> None:
    result, cursor = _tick(tmp_path / "nowhere", None)
    assert isinstance(result, dg.SkipReason) and "does not exist" in result.skip_message and cursor is None
    result, _ = _tick(_corpus(tmp_path), "{not json")
    assert isinstance(result, dg.SkipReason) and "baseline" in result.skip_message


def test_the_sensor_targets_static_analysis_profiles_and_the_cost_model() -> None:
    job = defs().resolve_job_def("step_sources_changed")
    keys = {k.to_user_string() for k in job.asset_layer.executable_asset_keys}
    assert {"step_sources", "static_metrics", "step_profiles", "step_tiers", "step_pricing", "cost_report"} <= keys
    assert not {"workflow_executions", "workflow_step_runs", "fuel_calibrations"} & keys
