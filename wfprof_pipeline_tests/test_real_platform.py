"""A platform checkout as it is, profiled by real Node processes: no registry at all (import profiles), a
starter registry from `wfprof registry init` (an execute row per step, ok or with a named cause), canned
responses by host, shims kept outside the checkout, and the coverage statuses in the cost tables."""

from __future__ import annotations

import textwrap
from pathlib import Path

import dagster as dg
import duckdb
import pytest

from wfprof_pipeline.cli import main
from wfprof_pipeline.defs.pricing import assets as cm
from wfprof_pipeline.defs.resources import NodeResource, StepCorpusResource, WarehouseResource
from wfprof_pipeline.defs.static_metrics.metrics import static_analysis
from wfprof_pipeline.defs.static_metrics.sources import step_sources
from wfprof_pipeline.defs.step_profiles.assets import step_profiling
from wfprof_pipeline.lib.profiling.runner import ProfileOptions, RunResult, profile_steps
from wfprof_pipeline.lib.registry import load_for_root
from wfprof_pipeline.lib.workflows.demo import bundled_corpus
from wfprof_pipeline_tests.platform_fixture import PLATFORM, platform_copy

PRECISE = ProfileOptions(modes=("precise",), repeat=1, timeout_s=30)


def _by_step(results: list[RunResult]) -> dict[str, RunResult]:
    return {r.step_id: r for r in results}


def test_no_registry_profiles_every_step_at_import() -> None:
    registry = load_for_root(PLATFORM)
    assert registry.path is None
    results = _by_step(profile_steps(registry, None, PRECISE))
    assert sorted(results) == sorted(registry.ids) and len(results) == 6
    for r in results.values():
        assert not r.failed, (r.step_id, r.error)
        assert set(r.outcome.phases) == {"import"}  # nothing says what to call it with
    # `server-only` resolved to an empty module, `@/` and `@config/` through tsconfig: the step's own code
    # and its packages are counted (zod is a real npm package of the checkout).
    tally = results["tally/score-batch"].outcome.phases["import"]
    assert tally.packages.get("zod", 0) > 0


@pytest.fixture(scope="module")
def configured(tmp_path_factory) -> Path:
    root = platform_copy(tmp_path_factory.mktemp("platform") / "checkout")
    elsewhere = root.parent / "wfprof"  # shims kept beside a registry outside the checkout
    elsewhere.mkdir()
    (elsewhere / "credentials.ts").write_text(textwrap.dedent("""\
        import { z } from "zod";  // resolved from the checkout's node_modules
        export async function fetchCredentials(id: string) {
          const token = z.string().parse(`token-for-${id}`);
          return { apiToken: token, apiKey: token };
        }
        """))
    (elsewhere / "registry.toml").write_text(textwrap.dedent(f"""\
        [shims]
        "@/lib/credential-fetcher" = "{elsewhere / 'credentials.ts'}"

        [steps."chatter/post-message"]
        input = {{ integrationId = "int_1", channel = "#ops", text = "deployed" }}

        [[steps."chatter/post-message".responses]]
        url = "https://api.chatter.example/v1/*"
        method = "POST"
        json = {{ id = "m-1" }}

        [steps."notes/create-note"]
        input = {{ body = "no title" }}

        [steps."notes/create-note-titled"]
        module = "keeperhub/plugins/notes/steps/create-note.ts"
        export = "createNoteStep"
        action_type = "notes/create-note"
        input = {{ title = "t", integrationId = "int_1" }}

        [steps."ledger/get-balance"]
        input = {{ account = "acc-1", currency = "EUR" }}

        [steps."tally/score-batch"]
        input = {{ records = '[{{"id":"a","value":3}}]', mode = "sum", threshold = 1 }}
        """))
    return root


@pytest.fixture(scope="module")
def executed(configured: Path, monkeypatch_module) -> dict[str, RunResult]:
    monkeypatch_module.setenv("WFPROF_STEP_REGISTRY", str(configured.parent / "wfprof" / "registry.toml"))
    return _by_step(profile_steps(load_for_root(configured), None, PRECISE))


@pytest.fixture(scope="module")
def monkeypatch_module():
    with pytest.MonkeyPatch.context() as mp:
        yield mp


def test_a_hard_coded_host_is_answered_by_the_stub(executed) -> None:
    chatter = executed["chatter/post-message"]
    assert not chatter.failed, chatter.error
    assert '"messageId":"m-1"' in chatter.outcome.result
    (request,) = chatter.outcome.io["execute"]
    assert (request.host, request.method, request.path) == ("api.chatter.example", "POST", "/v1/messages")


def test_a_host_without_a_canned_response_is_refused_and_named(executed) -> None:
    titled = executed["notes/create-note-titled"]
    assert titled.failed and titled.error_kind == "egress"
    assert "api.notes.example" in titled.error and 'host = "' in titled.error


def test_an_error_object_shows_its_message(executed) -> None:
    note = executed["notes/create-note"]
    assert note.error_kind == "failed_result"
    assert note.error == "step returned success=false: title is required (MISSING_TITLE)"


def test_a_database_connection_is_named_as_such(executed) -> None:
    ledger = executed["ledger/get-balance"]
    assert ledger.failed and "blocked a database connection to" in ledger.error and ":5432" in ledger.error
    assert "shim that module" in ledger.error


def test_discovered_steps_without_an_entry_stay_import_only(executed) -> None:
    assert set(executed["pager/pick-oncall"].outcome.phases) == {"import"}
    assert not executed["tally/score-batch"].failed


def test_a_shim_that_fails_to_compile_fails_only_its_importers(configured: Path, tmp_path: Path,
                                                              monkeypatch) -> None:
    broken = tmp_path / "broken.ts"
    broken.write_text("export const = ;\n")
    registry = tmp_path / "registry.toml"
    registry.write_text(f'[shims]\n"@/lib/credential-fetcher" = "{broken}"\n')
    monkeypatch.setenv("WFPROF_STEP_REGISTRY", str(registry))
    results = _by_step(profile_steps(load_for_root(configured), None, PRECISE))
    failed = {sid for sid, r in results.items() if r.failed}
    assert failed == {"chatter/post-chatter-message", "notes/create-note"}  # the two that import it
    assert all("broken.ts" in results[s].error and results[s].error_kind == "compile" for s in failed)


def test_compare_prints_difference_and_ratio(capsys) -> None:
    code = main(["profile", "--compare", "pager/pick-oncall,tally/score-batch", "--precise", "--dry-run",
                 "--no-timing", "--root", str(PLATFORM)])
    out = capsys.readouterr().out
    assert code == 0
    header = out.splitlines()[0].split()
    assert header == ["measure", "pager/pick-oncall", "tally/score-batch", "Δ", "ratio"]
    line = next(ln for ln in out.splitlines() if ln.startswith("import: packages"))
    assert line.split()[-1].endswith("×") or line.split()[-1] == "-"
    assert "each step against pager/pick-oncall" in out


def test_statuses_in_step_tiers_and_step_pricing(configured: Path, tmp_path: Path, monkeypatch) -> None:
    """priced, import_only, not_profiled and failed: every discovered step has a row and a coverage."""
    (configured / "keeperhub" / "plugins" / "pager" / "steps" / "twice.ts").write_text(
        "export async function aStep() {}\nexport async function bStep() {}\n")
    monkeypatch.setenv("WFPROF_STEP_REGISTRY", str(configured.parent / "wfprof" / "registry.toml"))
    monkeypatch.setenv("WFPROF_REPORTS_DIR", str(tmp_path / "reports"))
    warehouse = tmp_path / "w.duckdb"
    result = dg.materialize(
        [step_sources, static_analysis, step_profiling, cm.step_tiers, cm.step_pricing],
        resources={"warehouse": WarehouseResource.pinned(path=str(warehouse)),
                   "step_corpus": StepCorpusResource.pinned(root=str(configured)), "node": NodeResource()},
        run_config={"ops": {"step_profiling": {"config": {"modes": ["precise"], "repeat": 1}}}},
        raise_on_error=False,
    )
    assert result.success
    with duckdb.connect(str(warehouse), read_only=True) as con:
        pricing = dict(con.execute("select step_id, coverage from step_pricing").fetchall())
        tiers = dict(con.execute("select step_id, coverage from step_tiers").fetchall())
        notes = dict(con.execute("select step_id, note from step_pricing").fetchall())
    assert pricing == tiers
    assert pricing["tally/score-batch"] == "priced" and pricing["chatter/post-message"] == "priced"
    assert pricing["pager/pick-oncall"] == "import_only"
    assert pricing["pager/twice"] == "not_profiled" and "2 step functions" in notes["pager/twice"]
    assert pricing["notes/create-note"] == "failed" and "MISSING_TITLE" in notes["notes/create-note"]
    assert len(pricing) == 8  # 6 discovered + the registry's variant + the file with two exports


def test_demo_seeding_only_with_the_bundled_corpus(tmp_path: Path) -> None:
    bundled = Path(__file__).resolve().parents[1] / "data" / "steps"
    assert bundled_corpus(bundled, None)
    assert not bundled_corpus(PLATFORM, None)
    assert not bundled_corpus(bundled, str(tmp_path / "registry.toml"))
