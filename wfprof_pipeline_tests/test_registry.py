"""The step registry: the bundled one is complete and consistent; bad registries fail with clear errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from wfprof_pipeline.lib.profiling.runner import compile_steps
from wfprof_pipeline.lib.registry import (
    IO_CLASSES,
    RegistryError,
    UnknownStepError,
    load_for_root,
    load_registry,
)

PROJECT = Path(__file__).resolve().parents[1]
STEPS_ROOT = PROJECT / "data" / "steps"


@pytest.fixture(scope="module")
def bundled():
    return load_for_root(STEPS_ROOT)


def test_bundled_registry_covers_every_sample_step(bundled) -> None:
    assert len(bundled.steps) >= 10
    modules = {e.module for e in bundled.steps.values()}
    on_disk = {p.relative_to(STEPS_ROOT).as_posix() for p in STEPS_ROOT.glob("plugins/*/steps/*.ts")}
    assert modules == on_disk
    for entry in bundled.steps.values():
        assert bundled.module_path(entry).is_file()
        assert entry.io_class in IO_CLASSES
        assert "/" in entry.action_type
        assert entry.id.split("/")[0] == entry.module.split("/")[1]  # id's plugin = folder plugin


def test_io_steps_have_canned_responses_and_compute_steps_none(bundled) -> None:
    for entry in bundled.steps.values():
        if entry.io_class == "none":
            assert entry.responses == []
        else:
            assert entry.responses, entry.id
    rpc = {r.rpc_method for r in bundled.get("web3/transfer-funds").responses}
    assert {"eth_sendRawTransaction", "eth_getTransactionReceipt", "eth_estimateGas"} <= rpc


def test_shims_and_aliases_point_at_files(bundled) -> None:
    assert {"server-only", "@/lib/credential-fetcher", "@/lib/steps/step-handler"} <= set(bundled.shims)
    for target in bundled.shims.values():
        assert (bundled.root / target).is_file()
    # The registry's alias wins over tsconfig's (the same pattern); tsconfig's editor-only paths for the
    # shims are aliases too, but shims are matched first.
    assert bundled.aliases["@/*"] == "*"


def test_input_file_is_loaded(bundled) -> None:
    data = bundled.input_for(bundled.get("math/aggregate"))
    assert data["field"] == "latencyMs" and len(data["items"]) == 400


def test_unknown_step_lists_known_ids(bundled) -> None:
    with pytest.raises(UnknownStepError) as err:
        bundled.get("web3/nope")
    assert "web3/nope" in str(err.value)
    assert "web3/check-balance" in str(err.value) and "slack/send-message" in str(err.value)


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "registry.toml"
    path.write_text(text)
    return path


GOOD_STEP = """
[steps."a/b"]
module = "plugins/a/steps/b.ts"
export = "bStep"
action_type = "a/b"
"""


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("[steps\n", "not valid TOML"),
        ("[shims]\n", "defines no steps"),
        (GOOD_STEP + "surprise = 1\n", "surprise: Extra inputs"),
        ('[steps."a/b"]\nmodule = "x.ts"\naction_type = "a/b"\n', "export"),
        (GOOD_STEP + 'io_class = "quantum"\n', "io_class"),
        (GOOD_STEP + 'input = {}\ninput_file = "x.json"\n', "either `input` or `input_file`"),
        (GOOD_STEP + '[[steps."a/b".responses]]\nrpc_method = "eth_chainId"\n', "needs `result` or `error`"),
        (GOOD_STEP + '[[steps."a/b".responses]]\nstatus = 200\n', "method`/`path"),
        (GOOD_STEP + '[[steps."a/b".responses]]\npath = "/x"\nstatus = 42\n', "status"),
        ('oops = 1\n' + GOOD_STEP, "unknown top-level keys"),
    ],
)
def test_bad_registries_are_rejected_clearly(tmp_path: Path, text: str, fragment: str) -> None:
    with pytest.raises(RegistryError) as err:
        load_registry(_write(tmp_path, text))
    assert fragment in str(err.value)
    assert "registry" in str(err.value)


def test_missing_registry_says_where_and_how(tmp_path: Path) -> None:
    with pytest.raises(RegistryError) as err:
        load_for_root(tmp_path)
    assert str(tmp_path / "registry.toml") in str(err.value) and "WFPROF_STEP_REGISTRY" in str(err.value)


def test_bad_input_file_is_an_error_for_that_step(tmp_path: Path) -> None:
    text = GOOD_STEP.replace('action_type = "a/b"', 'action_type = "a/b"\ninput_file = "in.json"')
    reg = load_registry(_write(tmp_path, text))
    with pytest.raises(RegistryError, match="cannot read input_file"):
        reg.input_for(reg.get("a/b"))
    (tmp_path / "in.json").write_text(json.dumps([1, 2]))
    with pytest.raises(RegistryError, match="JSON object"):
        reg.input_for(reg.get("a/b"))


def test_a_registry_kept_outside_the_checkout_names_the_checkouts_files(tmp_path: Path, monkeypatch) -> None:
    """README: WFPROF_STEPS_ROOT=<KeeperHub checkout>, WFPROF_STEP_REGISTRY=<elsewhere>/registry.toml."""
    checkout, elsewhere = tmp_path / "keeperhub", tmp_path / "wfprof"
    (checkout / "plugins" / "a" / "steps").mkdir(parents=True)
    step = checkout / "plugins" / "a" / "steps" / "b.ts"
    step.write_text('import "server-only";\nexport async function bStep() {}\n')
    elsewhere.mkdir()
    (elsewhere / "server-only.ts").write_text("export {};\n")
    _write(elsewhere, f'[shims]\n"server-only" = "{elsewhere / "server-only.ts"}"\n' + GOOD_STEP)
    monkeypatch.setenv("WFPROF_STEP_REGISTRY", str(elsewhere / "registry.toml"))
    reg = load_for_root(checkout)
    assert reg.root == checkout.resolve()
    assert reg.module_path(reg.get("a/b")).is_file()
    # a shim kept beside that registry (an absolute path) compiles into the build's shim folder, not above it
    compiled, shim_dir = compile_steps(reg, reg.steps.values(), tmp_path / "build")
    assert compiled["plugins/a/steps/b.ts"].error is None
    shims = list((tmp_path / "build").rglob("server-only.ts.mjs"))
    assert len(shims) == 1 and shims[0].is_relative_to(shim_dir)
