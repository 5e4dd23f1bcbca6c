"""The embedded sandbox: real QuickJS-NG in real wasmtime — the fn protocol, limits, isolation, hostile code."""

from __future__ import annotations

import time

import pytest

from wfprof_pipeline.lib.fuel.sandbox import (
    Capture,
    ErrorKind,
    EvaluationResult,
    Limits,
    Sandbox,
    default_sandbox,
    evaluate,
)

SMALL = Limits(fuel=300_000_000, memory_bytes=32 << 20, timeout_s=5)


@pytest.fixture(scope="module")
def sandbox() -> Sandbox:
    return default_sandbox()


def run(sandbox: Sandbox, code: str, parameters: object = None, limits: Limits = SMALL, **kw) -> EvaluationResult:
    return sandbox.evaluate(code, parameters, limits=limits, **kw)


# --- the fn protocol -------------------------------------------------------------------------------------

def test_fn_is_called_with_parameters_and_its_json_result_is_returned(sandbox: Sandbox) -> None:
    r = run(sandbox, 'function fn(p) { print("log", p.a); return { sum: p.a + p.b, list: [p.a, null] }; }',
            {"a": 2, "b": 3})
    assert r.success and r.error is None and r.error_kind is None
    assert r.result == {"sum": 5, "list": [2, None]}
    assert r.stdout == "log 2\n"
    assert r.fuel_consumed > 1_000_000 and r.memory_used >= 2 << 20


@pytest.mark.parametrize("code", ["const fn = (p) => p.x * 2;", "var fn = function (p) { return p.x * 2; };",
                                  "let fn; fn = (p) => p.x * 2;"])
def test_fn_may_be_declared_any_way(sandbox: Sandbox, code: str) -> None:
    assert run(sandbox, code, {"x": 21}).result == 42


def test_undefined_result_is_null(sandbox: Sandbox) -> None:
    r = run(sandbox, "function fn() {}")
    assert r.success and r.result is None


def test_strict_mode_directive_of_the_user_code_is_kept(sandbox: Sandbox) -> None:
    r = run(sandbox, '"use strict"; function fn() { return (function () { return this; })() === undefined; }')
    assert r.result is True


def test_printing_a_fake_result_marker_cannot_forge_the_result(sandbox: Sandbox) -> None:
    fake = '\\x1ewfprof-result:0123456789abcdef01234567:{"ok":true,"result":666}'
    r = run(sandbox, f"function fn() {{ print('{fake}'); return 1; }}")
    assert r.result == 1
    assert "666" in r.stdout


def test_evaluate_function_is_the_public_entry_point() -> None:
    r = evaluate("function fn(p) { return p.n + 1; }", {"n": 1}, fuel=100_000_000, memory_bytes=16 << 20,
                 timeout_s=2)
    assert isinstance(r, EvaluationResult) and r.result == 2


# --- determinism -----------------------------------------------------------------------------------------

def test_fuel_is_identical_across_repeats_including_random_and_date(sandbox: Sandbox) -> None:
    code = ("function fn() { const xs = []; for (let i = 0; i < 200; i++) xs.push(Math.random());"
            " return [xs.reduce((a, b) => a + b, 0), Date.now(), new Date().toISOString()]; }")
    results = [run(sandbox, code) for _ in range(4)]
    assert len({r.fuel_consumed for r in results}) == 1
    assert len({repr(r.result) for r in results}) == 1
    assert results[0].result[2].startswith("2024-01-01T00:00:00")


def test_non_deterministic_mode_uses_the_real_clock(sandbox: Sandbox) -> None:
    r = run(sandbox, "function fn() { return Date.now(); }", deterministic=False)
    assert abs(r.result / 1000 - time.time()) < 600  # the host's clock, not the frozen 2024-01-01


# --- limits and hostile code -----------------------------------------------------------------------------

def test_infinite_loop_runs_out_of_fuel(sandbox: Sandbox) -> None:
    r = run(sandbox, "function fn() { while (true) {} }", limits=Limits(fuel=50_000_000))
    assert not r.success and r.error_kind == ErrorKind.OUT_OF_FUEL
    assert r.fuel_consumed == 50_000_000
    assert "out of fuel" in r.error


def test_memory_bomb_is_reported_as_out_of_memory(sandbox: Sandbox) -> None:
    r = run(sandbox, "function fn() { const a = []; while (true) a.push(new Array(1e5).fill(1)); }",
            limits=Limits(fuel=20_000_000_000, memory_bytes=16 << 20, timeout_s=20))
    assert not r.success and r.error_kind == ErrorKind.OUT_OF_MEMORY, r.error
    assert "out of memory" in r.error
    assert r.memory_used <= 16 << 20


def test_string_doubling_bomb_is_a_clear_error(sandbox: Sandbox) -> None:
    r = run(sandbox, 'function fn() { let s = "x"; while (true) s = s + s; }',
            limits=Limits(fuel=20_000_000_000, memory_bytes=16 << 20, timeout_s=20))
    assert not r.success and r.error_kind in (ErrorKind.OUT_OF_MEMORY, ErrorKind.RUNTIME_ERROR)
    assert r.error


def test_busy_wait_on_the_real_clock_hits_the_wall_deadline(sandbox: Sandbox) -> None:
    r = run(sandbox, "function fn() { const t = Date.now(); while (Date.now() < t + 600000) {} }",
            limits=Limits(fuel=10**13, timeout_s=0.3), deterministic=False)
    assert not r.success and r.error_kind == ErrorKind.TIMEOUT
    assert "0.3 s" in r.error


def test_cpu_loop_with_unlimited_fuel_hits_the_wall_deadline(sandbox: Sandbox) -> None:
    r = run(sandbox, "function fn() { for (;;) {} }", limits=Limits(fuel=10**13, timeout_s=0.2))
    assert r.error_kind == ErrorKind.TIMEOUT


def test_busy_wait_on_the_virtual_clock_ends(sandbox: Sandbox) -> None:
    r = run(sandbox, "function fn() { const t = Date.now(); while (Date.now() < t + 2000) {} return Date.now() - t; }")
    assert r.success and 2000 <= r.result <= 2002  # the loop ends one clock step after the target


@pytest.mark.timeout(60)
def test_os_sleep_cannot_block_the_host(sandbox: Sandbox) -> None:
    # User code cannot reach qjs:os at all (classic script, no job loop for import()); a module script can,
    # and its 10-minute sleep must return at once because poll_oneoff is shadowed.
    capture = Capture(b"\x1enonce:", SMALL, deterministic=True)
    run_ = sandbox.run_argv(
        ["qjs", "-m", "-e", 'import * as os from "qjs:os"; os.sleep(600000); print("awake");'], SMALL, capture
    )
    assert run_.trap is None and run_.rc == 0
    assert capture.text(1) == "awake\n"


def test_no_host_capabilities_are_reachable_from_user_code(sandbox: Sandbox) -> None:
    names = ["std", "os", "require", "process", "fetch", "XMLHttpRequest", "WebSocket", "setTimeout",
             "Atomics", "scriptArgs", "Deno", "Bun"]
    code = f"function fn() {{ return {names!r}.map((n) => typeof globalThis[n]); }}"
    assert run(sandbox, code).result == ["undefined"] * len(names)


def test_dynamic_import_never_runs(sandbox: Sandbox) -> None:
    r = run(sandbox, 'function fn() { let got = "nothing";'
                     ' import("qjs:std").then((m) => { got = m.loadFile("/etc/passwd"); }); return got; }')
    assert r.success and r.result == "nothing"


def test_files_env_and_directories_are_invisible_even_to_a_module(
    sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("WFPROF_TEST_SECRET", "hunter2")
    capture = Capture(b"\x1enonce:", SMALL, deterministic=True)
    script = (
        'import * as std from "qjs:std"; import * as os from "qjs:os";'
        'print(JSON.stringify([std.loadFile("/etc/passwd"), std.getenv("WFPROF_TEST_SECRET"),'
        ' std.getenv("HOME"), Object.keys(std.getenviron()).length, os.readdir("/")[1],'
        ' std.open("/tmp/wfprof-escape", "w"), typeof std.urlGet, typeof os.exec]));'
    )
    run_ = sandbox.run_argv(["qjs", "-m", "-e", script], SMALL, capture)
    assert run_.rc == 0, capture.text(2)
    assert capture.text(1) == '[null,null,null,0,44,null,"undefined","undefined"]\n'
    assert "hunter2" not in capture.text(1)


@pytest.mark.parametrize(
    ("code", "kind", "fragment"),
    [
        ("function fn( {", ErrorKind.SYNTAX_ERROR, "SyntaxError"),
        ('import fs from "fs"; function fn() {}', ErrorKind.SYNTAX_ERROR, "SyntaxError"),
        ('export function fn() {}', ErrorKind.SYNTAX_ERROR, "SyntaxError"),
        ("let x = 1;", ErrorKind.MISSING_FN, "define a function named fn"),
        ("const fn = 42;", ErrorKind.MISSING_FN, "define a function named fn"),
        ("function fn() { throw 42; }", ErrorKind.RUNTIME_ERROR, "Uncaught number: 42"),
        ("function fn() { throw null; }", ErrorKind.RUNTIME_ERROR, "Uncaught null"),
        ("function fn() { throw undefined; }", ErrorKind.RUNTIME_ERROR, "Uncaught undefined"),
        ('function fn() { throw { code: "E1" }; }', ErrorKind.RUNTIME_ERROR, '{"code":"E1"}'),
        ('function fn() { throw Symbol("s"); }', ErrorKind.RUNTIME_ERROR, "Symbol(s)"),
        ("function fn() { throw { toString() { throw 1; } }; }", ErrorKind.RUNTIME_ERROR, "Uncaught object"),
        ("function fn() { const e = new Error('x'); Object.defineProperty(e, 'message', "
         "{ get() { throw 1; } }); throw e; }", ErrorKind.RUNTIME_ERROR, "Error"),
        ("function fn() {\n  null.x;\n}", ErrorKind.RUNTIME_ERROR, "code.js:2"),
        ('function fn() { return JSON.parse("{"); }', ErrorKind.RUNTIME_ERROR, "SyntaxError"),
        ("function fn() { return 1n; }", ErrorKind.INVALID_RESULT, "BigInt"),
        ("function fn() { const a = {}; a.self = a; return a; }", ErrorKind.INVALID_RESULT, "circular"),
        ("function fn() { return () => 1; }", ErrorKind.INVALID_RESULT, "function"),
        ("function fn() { return Symbol('x'); }", ErrorKind.INVALID_RESULT, "symbol"),
        ("async function fn() { return 1; }", ErrorKind.INVALID_RESULT, "Promise"),
        ("function fn() { return { toJSON() { throw new Error('no'); } }; }", ErrorKind.INVALID_RESULT, "no"),
        ("function fn() { function f() { return f() + 1; } return f(); }", ErrorKind.STACK_OVERFLOW, "stack"),
        ("Object.defineProperty(globalThis, 'fn', { get() { throw new Error('trap'); } });",
         ErrorKind.RUNTIME_ERROR, "trap"),
    ],
)
def test_bad_code_gets_a_clear_result(sandbox: Sandbox, code: str, kind: ErrorKind, fragment: str) -> None:
    r = run(sandbox, code)
    assert not r.success and r.result is None
    assert r.error_kind == kind, r.error
    assert fragment in r.error
    assert "<cmdline>" not in r.error and "eval (native)" not in r.error  # harness frames are hidden


def test_errors_name_the_callers_filename(sandbox: Sandbox) -> None:
    r = run(sandbox, "function fn() {\n  undefinedThing();\n}", filename="steps/mine.js")
    assert "steps/mine.js:2" in r.error


def test_huge_stdout_is_truncated_and_the_result_still_arrives(sandbox: Sandbox) -> None:
    limits = Limits(fuel=2_000_000_000, max_output_bytes=64 << 10)
    r = run(sandbox, 'function fn() { const s = "x".repeat(10000);'
                     ' for (let i = 0; i < 200; i++) print(s); return "done"; }', limits=limits)
    assert r.success and r.result == "done"
    assert r.stdout.startswith("x" * 1000)
    assert len(r.stdout) < (64 << 10) + 200
    assert "output truncated" in r.stdout


def test_oversized_result_is_rejected(sandbox: Sandbox) -> None:
    r = run(sandbox, 'function fn() { return "y".repeat(100000); }', limits=Limits(max_result_bytes=1000))
    assert r.error_kind == ErrorKind.INVALID_RESULT and "larger than" in r.error


def test_code_with_nul_and_unicode_survives_transport(sandbox: Sandbox) -> None:
    r = run(sandbox, 'function fn(p) { return ["a\\u0000b", "é€😀", p.s]; }', {"s": "zé\u0000"})
    assert r.result == ["a\x00b", "é€😀", "zé\x00"]


def test_a_failed_evaluation_does_not_affect_the_next(sandbox: Sandbox) -> None:
    before = run(sandbox, "function fn() { return 7; }")
    run(sandbox, "function fn() { while (true) {} }", limits=Limits(fuel=10_000_000))
    run(sandbox, "function fn() { const a = []; while (true) a.push(new Array(1e5).fill(1)); }",
        limits=Limits(fuel=20_000_000_000, memory_bytes=16 << 20))
    after = run(sandbox, "function fn() { return 7; }")
    assert after.result == 7 and after.fuel_consumed == before.fuel_consumed


def test_limits_are_validated() -> None:
    with pytest.raises(ValueError):
        Limits(memory_bytes=1 << 20)
    with pytest.raises(ValueError):
        Limits(fuel=0)


def test_poisoned_prototypes_cannot_break_error_reporting(sandbox: Sandbox) -> None:
    code = ("Object.prototype.toJSON = function () { throw new Error('poisoned'); };"
            " String.prototype.toString = function () { throw 1; }; function fn() { throw new TypeError('real'); }")
    r = run(sandbox, code)
    assert r.error_kind == ErrorKind.RUNTIME_ERROR and "TypeError: real" in r.error


def test_non_json_parameters_are_rejected_at_the_boundary(sandbox: Sandbox) -> None:
    with pytest.raises(ValueError, match="JSON-serializable"):
        run(sandbox, "function fn() {}", {"s": {1, 2}})
    with pytest.raises(ValueError, match="NaN"):
        run(sandbox, "function fn() {}", {"x": float("nan")})


def test_code_larger_than_the_memory_limit_is_out_of_memory(sandbox: Sandbox) -> None:
    code = "function fn() { return 1; }\n//" + "x" * (12 << 20)
    r = run(sandbox, code, limits=Limits(memory_bytes=8 << 20))
    assert r.error_kind == ErrorKind.OUT_OF_MEMORY and "do not fit" in r.error


def test_the_module_has_no_network_imports(sandbox: Sandbox) -> None:
    imported = {(i.module, i.name) for i in sandbox.loaded.module.imports}
    assert not [name for _, name in imported if name.startswith("sock_")]
    assert {m for m, _ in imported} == {"wasi_snapshot_preview1"}


def test_deeply_nested_results_and_parameters_are_clear_errors(sandbox: Sandbox) -> None:
    r = run(sandbox, "function fn() { let a = []; for (let i = 0; i < 5000; i++) a = [a]; return a; }")
    assert r.error_kind in (ErrorKind.INVALID_RESULT, ErrorKind.STACK_OVERFLOW), r.error
    deep: list = []
    for _ in range(5000):
        deep = [deep]
    with pytest.raises(ValueError, match="JSON-serializable"):
        run(sandbox, "function fn() {}", {"deep": deep})
