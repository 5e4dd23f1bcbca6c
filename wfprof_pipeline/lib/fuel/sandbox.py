"""Run untrusted JavaScript in QuickJS-NG under wasmtime, metered by fuel, with the seed's fn protocol.

Isolation and limits, per evaluation (one Store each: a trapped QuickJS instance is not reusable):
- no preopened directories, no environment variables, no sockets (WASI gives none of them);
- fuel bounds instructions; the Store's memory limit bounds linear memory (QuickJS's own allocator limit
  sits below it so an out-of-memory becomes a catchable JS error with room left to report it);
- a wall-clock deadline through epoch interruption;
- WASI `poll_oneoff` is shadowed (ENOSYS), so nothing can sleep or block the host thread;
- stdout/stderr are captured by a shadowed `fd_write`, capped in size;
- in deterministic mode (the default) the clock starts at 2024-01-01T00:00:00Z and advances 1 ms per
  read, which also fixes QuickJS's Math.random seed: same code, same fuel, same output.
"""

from __future__ import annotations

import json
import math
import re
import secrets
import struct
import threading
import time
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import wasmtime
from pydantic import BaseModel, Field

from wfprof_pipeline.lib.fuel.engine import EPOCH_TICK_S, LoadedModule, ensure_ticker, shared_module
from wfprof_pipeline.lib.fuel.harness import HARNESS_JS_MIN, REPORTER_JS_MIN

MIB = 1 << 20
MIN_MEMORY_BYTES = 8 * MIB  # the module starts with ~2.4 MB of linear memory and needs room to run
FROZEN_EPOCH_NS = 1_704_067_200 * 10**9  # 2024-01-01T00:00:00Z
# The virtual clock moves 1 ms per read: busy-waits on Date.now() end after a few thousand reads.
CLOCK_STEP_NS = 1_000_000
ERRNO_BADF = 8
ERRNO_NOSYS = 52
_OUTPUT_FDS = (1, 2)
_HARNESS_FRAME = re.compile(r"^\s*at (eval \(native\)|.*<cmdline>).*$")


class ErrorKind(StrEnum):
    OUT_OF_FUEL = "out_of_fuel"
    OUT_OF_MEMORY = "out_of_memory"
    TIMEOUT = "timeout"
    STACK_OVERFLOW = "stack_overflow"
    SYNTAX_ERROR = "syntax_error"
    RUNTIME_ERROR = "runtime_error"
    MISSING_FN = "missing_fn"
    INVALID_RESULT = "invalid_result"
    INTERNAL_ERROR = "internal_error"


class Limits(BaseModel):
    """Per-evaluation limits. Defaults suit user step code; calibration raises fuel."""

    fuel: int = Field(default=2_000_000_000, ge=1, description="Fuel units (≈ wasm instructions)")
    memory_bytes: int = Field(default=64 * MIB, ge=MIN_MEMORY_BYTES, description="Linear memory cap")
    timeout_s: float = Field(default=5.0, gt=0, le=600, description="Wall-clock deadline")
    max_output_bytes: int = Field(default=1 * MIB, ge=0, description="Cap on each of stdout and stderr")
    max_result_bytes: int = Field(default=16 * MIB, ge=16, description="Cap on fn's JSON result")


class EvaluationResult(BaseModel):
    """The seed's secure-js-sandbox answer, plus `error_kind` and `duration_ms`."""

    success: bool
    result: Any = None
    error: str | None = None
    error_kind: ErrorKind | None = None
    stdout: str = ""
    stderr: str = ""
    fuel_consumed: int = 0
    memory_used: int = 0
    duration_ms: float = 0.0


@dataclass
class RawRun:
    rc: int | None = None
    trap: wasmtime.Trap | None = None
    other_error: str | None = None
    fuel_consumed: int = 0
    memory_used: int = 0
    too_large: bool = False  # the request itself did not fit in memory


class _RequestTooLarge(Exception):
    pass


class Capture:
    """Per-evaluation host state, reached by the shadowed WASI functions through a thread-local."""

    def __init__(self, nonce: bytes, limits: Limits, deterministic: bool) -> None:
        self.nonce = nonce
        self.limits = limits
        self.deterministic = deterministic
        self.clock_reads = 0
        self.user = {1: bytearray(), 2: bytearray()}
        self.dropped = {1: 0, 2: 0}
        self.carry = b""  # stdout tail that may hold the start of the nonce
        self.in_result = False
        self.result = bytearray()
        self.result_overflow = False

    def write(self, fd: int, data: bytes) -> None:
        if fd == 2:
            self._user(2, data)
            return
        if self.in_result:
            self._result(data)
            return
        scan = self.carry + data
        at = scan.find(self.nonce)
        if at < 0:
            keep = len(self.nonce) - 1
            self._user(1, scan[:-keep] if len(scan) > keep else b"")
            self.carry = scan[-keep:] if len(scan) > keep else scan
            return
        self._user(1, scan[:at])
        self.carry = b""
        self.in_result = True
        self._result(scan[at + len(self.nonce):])

    def finish(self) -> None:
        if not self.in_result and self.carry:
            self._user(1, self.carry)
            self.carry = b""

    def _user(self, fd: int, data: bytes) -> None:
        room = self.limits.max_output_bytes - len(self.user[fd])
        if room >= len(data):
            self.user[fd] += data
        else:
            self.user[fd] += data[: max(room, 0)]
            self.dropped[fd] += len(data) - max(room, 0)

    def _result(self, data: bytes) -> None:
        if len(self.result) + len(data) > self.limits.max_result_bytes:
            self.result_overflow = True
        else:
            self.result += data

    def text(self, fd: int) -> str:
        out = self.user[fd].decode("utf-8", errors="replace")
        if self.dropped[fd]:
            out += f"\n[wfprof: output truncated, {self.dropped[fd]} more bytes dropped]"
        return out


_current = threading.local()


def _capture() -> Capture:
    return _current.capture


def _fd_write(caller: wasmtime.Caller, fd: int, iovs: int, iovs_len: int, nwritten: int) -> int:
    if fd not in _OUTPUT_FDS:
        return ERRNO_BADF
    memory = caller.get("memory")
    assert isinstance(memory, wasmtime.Memory)
    raw = memory.read(caller, iovs, iovs + 8 * iovs_len)
    total = 0
    capture = _capture()
    for k in range(iovs_len):
        ptr, length = struct.unpack_from("<II", raw, 8 * k)
        if length:
            capture.write(fd, bytes(memory.read(caller, ptr, ptr + length)))
        total += length
    memory.write(caller, struct.pack("<I", total), nwritten)
    return 0


def _clock_time_get(caller: wasmtime.Caller, clock_id: int, precision: int, out: int) -> int:
    capture = _capture()
    if capture.deterministic:
        capture.clock_reads += 1
        now = FROZEN_EPOCH_NS + capture.clock_reads * CLOCK_STEP_NS
    else:
        now = time.time_ns() if clock_id == 0 else time.monotonic_ns()
    memory = caller.get("memory")
    assert isinstance(memory, wasmtime.Memory)
    memory.write(caller, struct.pack("<Q", now), out)
    return 0


def _poll_oneoff(a: int, b: int, c: int, d: int) -> int:
    return ERRNO_NOSYS  # os.sleep/timers would block the host thread for as long as the code asks


class Sandbox:
    """An embedded QuickJS sandbox. Thread-safe: every evaluation gets its own Store."""

    def __init__(self, loaded: LoadedModule | None = None) -> None:
        self.loaded = loaded or shared_module()
        engine = self.loaded.engine
        ensure_ticker(engine)
        linker = wasmtime.Linker(engine)
        linker.define_wasi()
        linker.allow_shadowing = True
        i32, i64 = wasmtime.ValType.i32(), wasmtime.ValType.i64()
        wasi = "wasi_snapshot_preview1"
        linker.define_func(wasi, "fd_write", wasmtime.FuncType([i32] * 4, [i32]), _fd_write, access_caller=True)
        linker.define_func(wasi, "poll_oneoff", wasmtime.FuncType([i32] * 4, [i32]), _poll_oneoff)
        linker.define_func(wasi, "clock_time_get", wasmtime.FuncType([i32, i64, i32], [i32]), _clock_time_get,
                           access_caller=True)
        self._pre = linker.instantiate_pre(self.loaded.module)

    def evaluate(
        self,
        code: str,
        parameters: Any = None,
        *,
        limits: Limits | None = None,
        filename: str = "code.js",
        deterministic: bool = True,
    ) -> EvaluationResult:
        limits = limits or Limits()
        started = time.perf_counter()
        nonce = b"\x1ewfprof-result:" + secrets.token_hex(12).encode() + b":"
        capture = Capture(nonce, limits, deterministic)
        try:
            request = json.dumps({"code": code, "parameters": parameters}, ensure_ascii=True, allow_nan=False)
        except (TypeError, ValueError, RecursionError) as exc:
            raise ValueError(f"parameters must be JSON-serializable (no NaN/Infinity): {exc}") from None
        # QuickJS's allocator limit sits below the Store's cap: the JS error object and the harness's
        # report still fit after user code hits it.
        js_limit = limits.memory_bytes - max(2 * MIB, limits.memory_bytes // 8)
        argv = ["qjs", "--memory-limit", str(js_limit), "-e", HARNESS_JS_MIN, nonce.decode(), request,
                REPORTER_JS_MIN]
        run = self.run_argv(argv, limits, capture)
        outcome = EvaluationResult(
            success=False,
            stdout=capture.text(1),
            stderr=capture.text(2),
            fuel_consumed=run.fuel_consumed,
            memory_used=run.memory_used,
        )
        _classify(outcome, capture, limits, run, filename)
        outcome.duration_ms = (time.perf_counter() - started) * 1000
        return outcome

    def run_argv(self, argv: list[str], limits: Limits, capture: Capture) -> RawRun:
        """Run QuickJS with `argv` in a fresh Store under `limits`; output goes to `capture`."""
        store = wasmtime.Store(self.loaded.engine)
        store.set_wasi(wasmtime.WasiConfig())
        store.set_limits(memory_size=limits.memory_bytes)
        store.set_fuel(limits.fuel)
        store.set_epoch_deadline(math.ceil(limits.timeout_s / EPOCH_TICK_S) + 1)
        _current.capture = capture
        run = RawRun()
        try:
            exports = self._pre.instantiate(store).exports(store)
            memory = exports["memory"]
            assert isinstance(memory, wasmtime.Memory)
            try:
                exports["_initialize"](store)
                argv_ptr = _write_argv(store, exports, memory, argv)
                run.rc = exports["qjs_init_argv"](store, len(argv), argv_ptr)
            except wasmtime.Trap as exc:
                run.trap = exc
            except _RequestTooLarge as exc:
                run.other_error = str(exc)
                run.too_large = True
            except wasmtime.ExitTrap as exc:
                run.other_error = f"the code exited the runtime (exit code {exc.code})"
            except wasmtime.WasmtimeError as exc:
                run.other_error = f"sandbox error: {str(exc).splitlines()[0]}"
            run.memory_used = memory.data_len(store)
        finally:
            run.fuel_consumed = limits.fuel - store.get_fuel()
            _current.capture = None
            capture.finish()
        return run


def _write_argv(store: wasmtime.Store, exports: Any, memory: wasmtime.Memory, argv: list[str]) -> int:
    """Lay out argv (NUL-terminated strings, then the pointer table) in one allocation: one host call."""
    encoded = [arg.encode() + b"\0" for arg in argv]
    strings_size = sum(len(e) for e in encoded)
    size = strings_size + (-strings_size % 4) + 4 * len(encoded)
    base = exports["malloc"](store, size)
    if not base:
        raise _RequestTooLarge(f"the code and parameters ({size:,} bytes) do not fit in the memory limit")
    pointers, offset = [], base
    for data in encoded:
        pointers.append(offset)
        offset += len(data)
    table = base + strings_size + (-strings_size % 4)
    memory.write(store, b"".join(encoded) + bytes(table - offset) + struct.pack(f"<{len(pointers)}I", *pointers),
                 base)
    return table


def _clean_error(text: str, filename: str) -> str:
    """Drop the harness's stack frames and name the user's file as they named it."""
    lines = [line for line in text.splitlines() if not _HARNESS_FRAME.match(line)]
    return "\n".join(lines).rstrip().replace("<input>", filename)


def _classify(
    outcome: EvaluationResult,
    capture: Capture,
    limits: Limits,
    run: RawRun,
    filename: str,
) -> None:
    trap, other_error, rc = run.trap, run.other_error, run.rc
    near_memory_cap = outcome.memory_used >= limits.memory_bytes * 3 // 4
    if trap is not None:
        code = trap.trap_code
        if code == wasmtime.TrapCode.OUT_OF_FUEL:
            outcome.error_kind = ErrorKind.OUT_OF_FUEL
            outcome.error = f"out of fuel: the code used all {limits.fuel:,} fuel units"
        elif code == wasmtime.TrapCode.INTERRUPT:
            outcome.error_kind = ErrorKind.TIMEOUT
            outcome.error = f"timeout: the code ran longer than {limits.timeout_s:g} s"
        elif code == wasmtime.TrapCode.STACK_OVERFLOW:
            outcome.error_kind = ErrorKind.STACK_OVERFLOW
            outcome.error = "stack overflow: the call stack is exhausted (recursion too deep)"
        elif near_memory_cap:
            outcome.error_kind = ErrorKind.OUT_OF_MEMORY
            outcome.error = f"out of memory: the code needs more than {limits.memory_bytes:,} bytes"
        else:
            outcome.error_kind = ErrorKind.INTERNAL_ERROR
            outcome.error = f"sandbox trap: {str(trap).splitlines()[-1].strip()}"
        return
    if other_error is not None:
        outcome.error_kind = ErrorKind.OUT_OF_MEMORY if run.too_large else ErrorKind.INTERNAL_ERROR
        outcome.error = other_error
        return
    record: dict[str, Any] | None = None
    if capture.result_overflow:
        outcome.error_kind = ErrorKind.INVALID_RESULT
        outcome.error = f"fn's result is larger than {limits.max_result_bytes:,} bytes of JSON"
        return
    if capture.in_result:
        try:
            record = json.loads(capture.result)
        except ValueError:
            record = None
        except RecursionError:
            outcome.error_kind = ErrorKind.INVALID_RESULT
            outcome.error = "fn's result is nested too deeply to decode"
            return
    if record is None:
        # The harness could not report: it ran out of memory itself, or QuickJS failed before it ran.
        stderr = outcome.stderr
        if near_memory_cap or "out of memory" in stderr:
            outcome.error_kind = ErrorKind.OUT_OF_MEMORY
            outcome.error = f"out of memory: the code needs more than {limits.memory_bytes:,} bytes"
        else:
            outcome.error_kind = ErrorKind.INTERNAL_ERROR
            outcome.error = f"the sandbox returned no result (rc={rc}): {stderr.strip()[:500]}"
        return
    if record.get("ok"):
        outcome.success = True
        outcome.result = record.get("result")
        return
    kind, error = classify_failure(record, near_memory_cap=near_memory_cap)
    error = _clean_error(error, filename)
    if kind == ErrorKind.OUT_OF_MEMORY:
        error = f"out of memory: the code needs more than {limits.memory_bytes:,} bytes ({error})"
    outcome.error_kind = kind
    outcome.error = error


_COMPILE_ERROR_TOP = re.compile(r"^\s*at <input>:\d+:\d+$")
_EVAL_FRAME = re.compile(r"^\s*at eval \(native\)$")


def classify_failure(record: dict[str, Any], *, near_memory_cap: bool) -> tuple[ErrorKind, str]:
    """Turn the harness's failure record {phase, type, is_error, name, message, stack} into (kind, message)."""
    phase = str(record.get("phase"))
    name, message, stack = (str(record.get(k) or "") for k in ("name", "message", "stack"))
    if phase == "missing_fn":
        return ErrorKind.MISSING_FN, ("the code must define a function named fn, "
                                      "e.g. function fn(parameters) { return 1; }")
    if phase == "promise":
        return ErrorKind.INVALID_RESULT, ("fn returned a Promise: async code is not supported "
                                          "(the sandbox runs no event loop)")
    if phase == "result_type":
        try:
            shown = json.loads(message)
        except ValueError:
            shown = message
        return ErrorKind.INVALID_RESULT, f"fn's result is not JSON-serializable: it is a {shown}"
    if record.get("is_error"):
        described = f"{name}: {message}" + (f"\n{stack.rstrip()}" if stack else "")
    else:
        described = f"Uncaught {record.get('type')}: {message}"
    if phase == "result":
        return ErrorKind.INVALID_RESULT, f"fn's result is not JSON-serializable: {described}"
    frames = stack.splitlines()
    if (phase == "eval" and name == "SyntaxError" and frames and _COMPILE_ERROR_TOP.match(frames[0])
            and len(frames) > 1 and _EVAL_FRAME.match(frames[1])):
        # A parse error's stack starts at the code itself, right under eval (JSON.parse errors sit under parse).
        return ErrorKind.SYNTAX_ERROR, described
    if name == "InternalError" and "out of memory" in message:
        return ErrorKind.OUT_OF_MEMORY, described
    if record.get("type") == "null" and near_memory_cap:
        return ErrorKind.OUT_OF_MEMORY, described  # QuickJS throws null when it cannot even allocate the error
    if name in ("InternalError", "RangeError") and ("stack" in message or "recursion" in message):
        return ErrorKind.STACK_OVERFLOW, described
    return ErrorKind.RUNTIME_ERROR, described


_default: Sandbox | None = None
_default_lock = threading.Lock()


def default_sandbox() -> Sandbox:
    """The process-wide embedded sandbox (module loaded from the on-disk cache on first use)."""
    global _default
    with _default_lock:
        if _default is None:
            _default = Sandbox()
        return _default


def evaluate(
    code: str,
    parameters: Any = None,
    *,
    fuel: int = Limits().fuel,
    memory_bytes: int = Limits().memory_bytes,
    timeout_s: float = Limits().timeout_s,
    filename: str = "code.js",
    deterministic: bool = True,
) -> EvaluationResult:
    """Meter `code` (which defines `fn`) called with `parameters`, in the embedded sandbox.

    Never raises for anything the code does: every outcome is an EvaluationResult with `error_kind`.
    """
    limits = Limits(fuel=fuel, memory_bytes=memory_bytes, timeout_s=timeout_s)
    return default_sandbox().evaluate(code, parameters, limits=limits, filename=filename,
                                      deterministic=deterministic)
