"""Benchmark: the WASM fuel sandbox. Not a test: prints medians and ratios against baselines measured in this run.

    .venv/bin/python benchmarks/fuel.py [--repeats 300] [--process-repeats 5]

1. module load: cold compile (fresh cache dir, new process) vs cached deserialize (new process)
2. per-evaluation overhead: an empty `fn` through the full sandbox (harness, limits, capture) vs QuickJS with
   an empty script on the same Store setup (`run_argv`), and the fixed fuel of each
3. the whole `wfprof calibrate` (21 operation types × 4 sizes × 2 repeats), whole process
4. fuel-metering overhead: the same QuickJS code on a fuel-metered engine vs an unmetered one (same host code)
5. HTTP vs embedded: one empty evaluation per request to `wfprof sandbox serve` (keep-alive httpx client) vs
   the embedded call
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import struct
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import wasmtime

from wfprof_pipeline.lib.fuel import engine
from wfprof_pipeline.lib.fuel.sandbox import Capture, Limits, default_sandbox
from wfprof_pipeline.lib.settings import ENV_FUEL_CACHE

PROJECT = Path(__file__).resolve().parent.parent

WFPROF = str(Path(sys.executable).parent / "wfprof")
LOAD_CHILD = "from wfprof_pipeline.lib.fuel import engine; m = engine.load_module(); print(m.source, m.load_seconds)"


def median_ms(fn: Callable[[], object], repeats: int, warmup: int = 5) -> float:
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times) * 1000


def row(label: str, value: str) -> None:
    print(f"  {label:<58}{value}")


def module_load(process_repeats: int) -> None:
    print("1. module load (new process each time; time inside load_module)")
    cold, cached = [], []
    for _ in range(max(2, process_repeats // 2)):
        with tempfile.TemporaryDirectory() as cache:
            env = {**os.environ, ENV_FUEL_CACHE: cache}
            out = subprocess.run([sys.executable, "-c", LOAD_CHILD], env=env, capture_output=True, text=True,
                                 check=True).stdout.split()
            assert out[0] == "compiled"
            cold.append(float(out[1]))
            for _ in range(process_repeats):
                out = subprocess.run([sys.executable, "-c", LOAD_CHILD], env=env, capture_output=True, text=True,
                                     check=True).stdout.split()
                assert out[0] == "cache"
                cached.append(float(out[1]))
    c, k = statistics.median(cold) * 1000, statistics.median(cached) * 1000
    row("cold compile (median)", f"{c:9.1f} ms")
    row("cached load (median)", f"{k:9.1f} ms   ({c / k:,.0f}x faster)")


def evaluation_overhead(repeats: int) -> None:
    print("2. per-evaluation overhead (in process)")
    sandbox = default_sandbox()
    limits = Limits()
    raw_fuel = []

    def raw() -> None:
        capture = Capture(b"\x1e-", limits, True)
        raw_fuel.append(sandbox.run_argv(["qjs", "-e", ""], limits, capture).fuel_consumed)

    empty = "function fn() {}"
    raw_ms = median_ms(raw, repeats)
    full_ms = median_ms(lambda: sandbox.evaluate(empty, {}, limits=limits), repeats)
    full_fuel = sandbox.evaluate(empty, {}, limits=limits).fuel_consumed
    row("baseline: QuickJS, empty script, fresh Store (median)", f"{raw_ms:9.3f} ms   {raw_fuel[-1]:>12,} fuel")
    row("sandbox: empty fn, harness + capture (median)", f"{full_ms:9.3f} ms   {full_fuel:>12,} fuel")
    row("harness cost", f"{full_ms - raw_ms:9.3f} ms   ({full_ms / raw_ms:.2f}x)")


def whole_calibration(process_repeats: int) -> None:
    print("3. whole `wfprof calibrate` (process start to exit; 21 types x 4 sizes x 2 repeats)")
    env = {k: v for k, v in os.environ.items() if k != "SANDBOX_URL"}
    times = []
    for _ in range(process_repeats):
        t = time.perf_counter()
        subprocess.run([WFPROF, "calibrate"], env=env, capture_output=True, check=True)
        times.append(time.perf_counter() - t)
    help_times = []
    for _ in range(process_repeats):
        t = time.perf_counter()
        subprocess.run([WFPROF, "--help"], capture_output=True, check=True)
        help_times.append(time.perf_counter() - t)
    h, w = statistics.median(help_times), statistics.median(times)
    row("baseline: `wfprof --help` (median)", f"{h:9.3f} s")
    row("`wfprof calibrate` (median)", f"{w:9.3f} s   ({w / h:.1f}x the CLI start-up)")


def _raw_runner(metered: bool) -> Callable[[str], None]:
    """The facts sheet's minimal host, identical for both engines except `consume_fuel`."""
    cfg = wasmtime.Config()
    cfg.consume_fuel = metered
    eng = wasmtime.Engine(cfg)
    module = wasmtime.Module.from_file(eng, str(engine.wasm_path()))
    linker = wasmtime.Linker(eng)
    linker.define_wasi()
    pre = linker.instantiate_pre(module)

    def run(code: str) -> None:
        store = wasmtime.Store(eng)
        store.set_wasi(wasmtime.WasiConfig())
        if metered:
            store.set_fuel(10**12)
        ex = pre.instantiate(store).exports(store)
        ex["_initialize"](store)
        mem = ex["memory"]
        ptrs = []
        for arg in ("qjs", "-e", code):
            data = arg.encode() + b"\0"
            p = ex["malloc"](store, len(data))
            mem.write(store, data, p)
            ptrs.append(p)
        argv = ex["malloc"](store, 12)
        mem.write(store, struct.pack("<3I", *ptrs), argv)
        assert ex["qjs_init_argv"](store, 3, argv) == 0

    return run


def metering_overhead(repeats: int) -> None:
    print("4. fuel-metering overhead (same host code, engines differ only in consume_fuel)")
    metered, unmetered = _raw_runner(True), _raw_runner(False)
    for label, code, n in (("empty script", "", repeats), ("10k-iteration loop", "let s=0;for(let i=0;i<1e4;i++)s+=i;",
                                                            repeats), ("1M-iteration loop",
                                                                       "let s=0;for(let i=0;i<1e6;i++)s+=i;", 21)):
        off = median_ms(lambda c=code: unmetered(c), n, warmup=2)
        on = median_ms(lambda c=code: metered(c), n, warmup=2)
        row(f"{label}: fuel off / on (median)", f"{off:9.3f} / {on:.3f} ms   ({on / off:.2f}x)")


def http_overhead(repeats: int) -> None:
    import httpx

    print("5. HTTP vs embedded (empty fn; `wfprof sandbox serve` in its own process, keep-alive client)")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen([WFPROF, "sandbox", "serve", "--port", str(port)], stdout=subprocess.PIPE, text=True)
    try:
        proc.stdout.readline()
        body = json.dumps({"code": "function fn() {}", "parameters": {}}).encode()
        with httpx.Client(base_url=f"http://127.0.0.1:{port}") as client:
            def remote() -> None:
                r = client.post("/evaluate", content=body, headers={"Content-Type": "application/json"})
                assert r.status_code == 200 and r.json()["success"]

            sandbox = default_sandbox()
            embedded_ms = median_ms(lambda: sandbox.evaluate("function fn() {}", {}), repeats)
            http_ms = median_ms(remote, repeats)
            health_ms = median_ms(lambda: client.get("/health"), repeats)
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    row("baseline: GET /health round trip, no evaluation (median)", f"{health_ms:9.3f} ms")
    row("embedded evaluate (median)", f"{embedded_ms:9.3f} ms")
    row("HTTP POST /evaluate (median)", f"{http_ms:9.3f} ms   (+{http_ms - embedded_ms:.3f} ms per request)")


SECTIONS = ("load", "eval", "calibrate", "metering", "http")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=300, help="in-process repetitions per measurement")
    parser.add_argument("--process-repeats", type=int, default=5, help="whole-process repetitions")
    parser.add_argument("--only", choices=SECTIONS, action="append", help="run only these sections")
    args = parser.parse_args()
    only = set(args.only or SECTIONS)
    print(f"wasmtime {engine.wasmtime_version()}, QuickJS-NG {engine.quickjs_version()}, "
          f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f}")
    steps = {"load": lambda: module_load(args.process_repeats), "eval": lambda: evaluation_overhead(args.repeats),
             "calibrate": lambda: whole_calibration(args.process_repeats),
             "metering": lambda: metering_overhead(args.repeats), "http": lambda: http_overhead(args.repeats)}
    for name in SECTIONS:
        if name in only:
            steps[name]()


if __name__ == "__main__":
    main()
