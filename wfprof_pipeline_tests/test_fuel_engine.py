"""The compiled-module cache: across processes, keyed by wasm + wasmtime + settings, robust to damage."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from wfprof_pipeline.lib.fuel import engine
from wfprof_pipeline.lib.settings import ENV_FUEL_CACHE

# A child process: load the module from the cache dir given in WFPROF_FUEL_CACHE, evaluate, report.
CHILD = """
import json
from wfprof_pipeline.lib.fuel import engine
from wfprof_pipeline.lib.fuel.sandbox import Limits, Sandbox
loaded = engine.load_module()
r = Sandbox(loaded).evaluate("function fn(p) { let s = 0; for (let i = 0; i < p.n; i++) s += i; return s; }",
                             {"n": 5000}, limits=Limits(fuel=10**9))
print(json.dumps({"source": loaded.source, "fuel": r.fuel_consumed, "result": r.result,
                  "blob": str(loaded.cache_path)}))
"""


def _child(cache_dir: Path) -> dict:
    env = {**os.environ, ENV_FUEL_CACHE: str(cache_dir)}
    done = subprocess.run([sys.executable, "-c", CHILD], env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def compiled_cache(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    """One cold compile for the whole module (it takes seconds), in a child process, into a cache dir that
    holds a damaged blob under the expected name: the child must reject it, compile and overwrite it."""
    cache_dir = tmp_path_factory.mktemp("fuel-cache")
    damaged = cache_dir / f"qjs-{engine.cache_key(engine.wasm_path().read_bytes())}.cwasm"
    damaged.write_bytes(b"this is not a compiled module" * 100)
    return cache_dir, _child(cache_dir)


def test_a_damaged_blob_is_recompiled_and_replaced(compiled_cache: tuple[Path, dict]) -> None:
    cache_dir, first = compiled_cache
    assert first["source"] == "compiled"
    blob = Path(first["blob"])
    assert blob.parent == cache_dir and blob.stat().st_size > 1_000_000  # the good blob replaced the bad one
    assert not list(cache_dir.glob(".tmp-*"))  # the atomic write left no temp file


def test_later_processes_load_from_the_cache_with_identical_fuel(compiled_cache: tuple[Path, dict]) -> None:
    cache_dir, first = compiled_cache
    second = _child(cache_dir)
    assert second["source"] == "cache"
    assert second["fuel"] == first["fuel"] and second["result"] == first["result"] == sum(range(5000))


def test_a_cache_others_can_write_is_not_trusted(tmp_path: Path) -> None:
    private = tmp_path / "private"
    private.mkdir(mode=0o700)
    blob = private / "qjs-x.cwasm"
    assert engine.trusted_location(blob)  # not written yet: fine
    blob.write_bytes(b"x")
    blob.chmod(0o600)
    assert engine.trusted_location(blob)
    blob.chmod(0o666)  # anyone could replace the native code in it
    assert not engine.trusted_location(blob)
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o1777)  # like /tmp
    assert not engine.trusted_location(shared / "qjs-x.cwasm")


def test_cache_key_depends_on_the_wasm_bytes() -> None:
    assert engine.cache_key(b"a") != engine.cache_key(b"b")
    assert engine.cache_key(b"a") == engine.cache_key(b"a")


def test_unwritable_cache_still_works(tmp_path: Path) -> None:
    # a file where the cache directory should be: nothing can be written there
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("x")
    engine._write_atomically(blocker / "sub" / "blob.cwasm", b"data")  # must not raise: the cache is optional
    assert blocker.read_text() == "x"


def test_cache_dir_follows_the_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv(ENV_FUEL_CACHE, raising=False)
    monkeypatch.setenv("WFPROF_HOME", str(tmp_path / "home"))
    assert engine.default_cache_dir() == tmp_path / "home" / "cache" / "fuel"
    monkeypatch.delenv("WFPROF_HOME")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert engine.default_cache_dir() == tmp_path / "xdg" / "wfprof" / "fuel"
    monkeypatch.setenv(ENV_FUEL_CACHE, str(tmp_path / "explicit"))
    assert engine.default_cache_dir() == tmp_path / "explicit"


def test_versions_are_reported() -> None:
    assert engine.quickjs_version().count(".") == 2
    assert engine.wasmtime_version().startswith("50.")
    assert engine.wasm_path().name == "qjs-wasi-reactor.wasm"
