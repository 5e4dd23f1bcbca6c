"""Discovery on a platform checkout as it is: manifests, exports, -core helpers, tsconfig aliases, and the
starter registry `wfprof registry init` writes. Pure Python (tree-sitter); no Node, no database."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path

import pytest

from wfprof_pipeline.cli import main
from wfprof_pipeline.lib.discovery.starter import starter_registry
from wfprof_pipeline.lib.discovery.steps import discover_steps
from wfprof_pipeline.lib.discovery.tsconfig import TsconfigError, load_aliases
from wfprof_pipeline.lib.registry import RegistryError, build_registry, load_for_root
from wfprof_pipeline.lib.static import tables
from wfprof_pipeline.lib.static.analyze import analyze_file
from wfprof_pipeline.lib.static.external_calls import RuleSet
from wfprof_pipeline_tests.platform_fixture import PLATFORM, platform_copy


@pytest.fixture(scope="module")
def found():
    return discover_steps(PLATFORM)


def test_steps_helpers_and_action_types(found) -> None:
    by_id = {d.step_id: d for d in found.files}
    assert sorted(d.step_id for d in found.steps) == [
        "chatter/post-chatter-message", "ledger/get-balance", "ledger/post-entry", "notes/create-note",
        "pager/pick-oncall", "tally/score-batch",
    ]
    # The -core file exports no step function and a sibling step imports it: a helper, not a step.
    core = by_id["ledger/post-entry-core"]
    assert core.role == "helper" and core.helper_of == ["plugins/ledger/steps/post-entry.ts"]
    assert by_id["ledger/post-entry"].helpers == ["plugins/ledger/steps/post-entry-core.ts"]
    # The manifest gives the action type, also when the file stem differs from the slug.
    chatter = by_id["chatter/post-chatter-message"]
    assert (chatter.action_type, chatter.export, chatter.manifest) == (
        "chatter/post-message", "postChatterMessageStep", "plugins/chatter/index.ts")
    # Config fields nested in a group are found.
    assert [f.key for f in chatter.fields] == ["channel", "text", "priority", "threadId"]
    # No manifest: the single …Step export, and plugin/stem as the action type.
    pager = by_id["pager/pick-oncall"]
    assert (pager.export, pager.action_type, pager.manifest) == ("pickOncallStep", "pager/pick-oncall", None)
    assert found.warnings == []


def test_tsconfig_aliases_follow_extends_and_base_url() -> None:
    aliases = load_aliases(PLATFORM)
    # Both patterns are declared in tsconfig.base.json; tsconfig.json extends it and sets baseUrl.
    assert aliases.paths == {"@config/*": ["config/*"], "@/*": ["*"]}


def test_a_tsconfig_extends_cycle_and_a_missing_tsconfig(tmp_path: Path) -> None:
    (tmp_path / "tsconfig.json").write_text('{"extends": "./a.json"}')
    (tmp_path / "a.json").write_text('// comment\n{"extends": "./tsconfig.json",}')
    with pytest.raises(TsconfigError, match="extends cycle: tsconfig.json -> a.json -> tsconfig.json"):
        load_aliases(tmp_path)
    (tmp_path / "plugins" / "p" / "steps").mkdir(parents=True)
    (tmp_path / "plugins" / "p" / "steps" / "s.ts").write_text("export async function sStep() {}\n")
    assert any("extends cycle" in w for w in discover_steps(tmp_path).warnings)  # said, not fatal
    (tmp_path / "tsconfig.json").unlink()
    assert any("no tsconfig.json" in w for w in discover_steps(tmp_path).warnings)
    (tmp_path / "tsconfig.json").write_text('{"extends": "./nowhere.json"}')
    with pytest.raises(TsconfigError, match="nowhere.json"):
        load_aliases(tmp_path)


def test_a_manifest_that_is_not_a_static_literal_falls_back_to_exports(tmp_path: Path) -> None:
    root = platform_copy(tmp_path / "p")
    manifest = root / "plugins" / "chatter" / "index.ts"
    manifest.write_text('import { build } from "./build";\nconst p = { type: "chatter", actions: build() };\n'
                        "export default p;\n")
    found = discover_steps(root)
    assert any("plugins/chatter/index.ts: the plugin manifest is not a static object literal" in w
               for w in found.warnings)
    chatter = next(d for d in found.steps if d.step_id == "chatter/post-chatter-message")
    assert (chatter.export, chatter.action_type) == ("postChatterMessageStep", "chatter/post-chatter-message")


def test_two_step_exports_in_one_file_are_not_profiled_with_the_reason(tmp_path: Path) -> None:
    root = platform_copy(tmp_path / "p")
    (root / "keeperhub" / "plugins" / "pager" / "steps" / "twice.ts").write_text(
        "export async function aStep() {}\nexport async function bStep() {}\n")
    registry = load_for_root(root)
    entry = registry.get("pager/twice")
    assert entry.problem == "exports 2 step functions (aStep, bStep); name the one to profile in the registry"
    # Naming the export in the registry resolves it.
    (root / "registry.toml").write_text('[steps."pager/twice"]\nexport = "bStep"\n')
    fixed = load_for_root(root).get("pager/twice")
    assert (fixed.export, fixed.problem, fixed.origin) == ("bStep", None, "both")


def test_registry_overrides_discovery_and_bad_entries(tmp_path: Path) -> None:
    root = platform_copy(tmp_path / "p")
    (root / "registry.toml").write_text(
        # keyed by action type: it overlays the discovered chatter step
        '[steps."chatter/post-message"]\ninput = { channel = "#ops", text = "hi" }\n'
        '[steps."ghost/step"]\nmodule = "plugins/ghost/steps/step.ts"\nexport = "ghostStep"\n'
        'action_type = "ghost/step"\n')
    registry = load_for_root(root)
    chatter = registry.get("chatter/post-message")
    assert chatter.module == "plugins/chatter/steps/post-chatter-message.ts" and chatter.executes
    assert "chatter/post-chatter-message" not in registry.steps  # one step, not two
    ghost = registry.get("ghost/step")
    assert ghost.problem == "module plugins/ghost/steps/step.ts does not exist under the steps root"
    assert any("ghost/step" in w for w in registry.warnings)
    # Discovered-only steps are profiled at import; registered ones execute.
    assert not registry.get("pager/pick-oncall").executes


@pytest.mark.parametrize(("response", "message"), [
    ('host = "127.0.0.1"', "is loopback, where the stub and its control API live"),
    ('host = "localhost:8080"', "is loopback"),
    ('url = "http://[::1]/x"', "is loopback"),
    ('host = "api.chatter.example"\npath = "/__wfprof/tenants/x"', "the stub's own control path"),
    ('url = "ftp://api.chatter.example/x"', "must be http(s)://host/path"),
])
def test_host_rules_that_would_claim_the_stub_are_refused(tmp_path: Path, response: str, message: str) -> None:
    root = platform_copy(tmp_path / "p")
    (root / "registry.toml").write_text(f'[[steps."tally/score-batch".responses]]\n{response}\n')
    with pytest.raises(RegistryError, match=message.replace("(", r"\(").replace(")", r"\)").replace("[", r"\[")):
        load_for_root(root)


def test_url_rules_become_host_and_path(tmp_path: Path) -> None:
    root = platform_copy(tmp_path / "p")
    (root / "registry.toml").write_text('[[steps."chatter/post-message".responses]]\n'
                                        'url = "https://API.chatter.example/v1/*"\njson = { id = "m1" }\n')
    (response,) = load_for_root(root).get("chatter/post-message").responses
    assert (response.host, response.path) == ("api.chatter.example", "/v1/*")
    assert response.for_harness() == {"host": "api.chatter.example", "path": "/v1/*", "status": 200,
                                      "json": {"id": "m1"}}


def test_a_non_utf8_registry_is_a_one_line_error(tmp_path: Path) -> None:
    root = platform_copy(tmp_path / "p")
    (root / "registry.toml").write_bytes(b'[steps."tally/score-batch"]\ndescription = "caf\xe9"\n')
    with pytest.raises(RegistryError, match="is not UTF-8 text"):
        load_for_root(root)


def test_a_registry_named_explicitly_must_exist(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("WFPROF_STEP_REGISTRY", str(tmp_path / "nope.toml"))
    with pytest.raises(RegistryError, match="nope.toml not found"):
        load_for_root(PLATFORM)
    monkeypatch.delenv("WFPROF_STEP_REGISTRY")
    assert load_for_root(PLATFORM).path is None  # no registry at all: discovery alone


def test_timeout_bounds(tmp_path: Path) -> None:
    root = platform_copy(tmp_path / "p")
    for value in ("1e300", "inf", "3000000", "0"):
        (root / "registry.toml").write_text(f'[steps."tally/score-batch"]\ntimeout_s = {value}\n')
        with pytest.raises(RegistryError, match="timeout_s"):
            build_registry(root, root / "registry.toml")


def test_static_step_metrics_fold_helpers_into_their_step(found) -> None:
    files = [d.file for d in found.files]
    rows = tables.metrics_rows([analyze_file(f, RuleSet()) for f in files], {d.file.rel: d.role for d in found.files})
    by_file = {r["file"]: r for r in rows}
    step, core = by_file["plugins/ledger/steps/post-entry.ts"], by_file["plugins/ledger/steps/post-entry-core.ts"]
    assert (step["role"], core["role"]) == ("step", "helper")
    folded = tables.step_metric_rows(rows, {d.file.rel: d.step_id for d in found.steps},
                                     {d.file.rel: d.helpers for d in found.steps})
    row = next(r for r in folded if r["step_id"] == "ledger/post-entry")
    assert row["cyclomatic_complexity"] == step["cyclomatic_complexity"] + core["cyclomatic_complexity"] - 1
    assert row["lines"] == step["lines"] + core["lines"]
    assert row["helpers"] == "plugins/ledger/steps/post-entry-core.ts"
    assert {r["step_id"] for r in folded} == {d.step_id for d in found.steps}  # helpers are not steps


def test_starter_registry(found) -> None:
    text = starter_registry(found)
    doc = tomllib.loads(text)
    steps = doc["steps"]
    assert set(steps) == {d.step_id for d in found.steps}
    chatter = steps["chatter/post-chatter-message"]
    assert (chatter["module"], chatter["export"], chatter["action_type"]) == (
        "plugins/chatter/steps/post-chatter-message.ts", "postChatterMessageStep", "chatter/post-message")
    # example, then defaultValue, then the first option, then a placeholder typed from the input type
    assert chatter["input"] == {"channel": "#ops", "text": "Deploy {{trigger.version}} finished",
                                "priority": "low", "threadId": "TODO threadId"}
    tally = steps["tally/score-batch"]["input"]
    assert (tally["mode"], tally["threshold"], tally["maxItems"]) == ("sum", 10, 0)
    # a hard-coded host gets a canned response to fill in
    assert chatter["responses"] == [{"url": "https://api.chatter.example/v1/*", "status": 200, "json": {}}]
    # platform modules reaching the database are suggested as shims (comments only), with the reason
    assert '# suggestion: "@/lib/credential-fetcher"' in text and "reaches the database via" in text
    assert doc["shims"] == {}
    assert "TODO: the step reads CHATTER_TOKEN from the environment" in text
    # no manifest: the required properties of the exported input type
    assert "input" in steps["pager/pick-oncall"]


def test_registry_init_writes_refuses_to_overwrite_and_loads(tmp_path: Path, capsys) -> None:
    root = platform_copy(tmp_path / "p")
    assert main(["registry", "init", "--root", str(root)]) == 0
    assert "6 steps (1 helper files folded in)" in capsys.readouterr().err
    registry = load_for_root(root)  # the written file loads as it is
    assert all(e.executes for e in registry.steps.values())
    assert main(["registry", "init", "--root", str(root)]) == 2
    assert "exists: refusing to overwrite it (use --force" in capsys.readouterr().err
    assert main(["registry", "init", "--root", str(root), "--force"]) == 0
    assert main(["registry", "init", "--root", str(root), "--output", str(tmp_path / "no" / "r.toml")]) == 2
    assert "does not exist" in capsys.readouterr().err
    assert main(["registry", "init", "--root", str(root), "--output", "-"]) == 0
    assert json.dumps("tally/score-batch") in capsys.readouterr().out


def test_a_variant_listed_before_its_step_stays_a_variant(tmp_path: Path) -> None:
    root = platform_copy(tmp_path / "p")
    (root / "registry.toml").write_text(
        '[steps."notes/create-note-titled"]\nmodule = "keeperhub/plugins/notes/steps/create-note.ts"\n'
        'export = "createNoteStep"\naction_type = "notes/create-note"\ninput = { title = "t" }\n'
        '[steps."notes/create-note"]\ninput = { body = "b" }\n')
    registry = load_for_root(root)
    assert registry.get("notes/create-note").origin == "both"
    variant = registry.get("notes/create-note-titled")
    assert variant.origin == "registry" and variant.input == {"title": "t"}
