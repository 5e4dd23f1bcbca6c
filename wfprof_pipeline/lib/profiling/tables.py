"""Step profiling tables: step_profiles (step × mode × phase), platform_profiles, step_package_calls,
step_profile_functions and step_io_requests, each declared once."""

import polars as pl

from wfprof_pipeline.lib.tables import Table

STEP_PROFILES = Table.of("step_profiles", [
    ("step_id", pl.Utf8, "Registry id, e.g. web3/check-balance"),
    ("action_type", pl.Utf8, "KeeperHub action type the step implements"),
    ("io_class", pl.Utf8, "Declared I/O class: none, http, chat, chain_read, chain_write"),
    ("mode", pl.Utf8, "precise (exact call counts), sampling (CPU samples) or timing (no profiler)"),
    ("phase", pl.Utf8,
     "import (cold start), execute (the first, cold execution on canned I/O) or "
     "execute_warm (the per-execution median of the later executions in the same "
     "process)"),
    ("calls_own", pl.Int64, "Calls in the step's own code (incl. @/ aliases); precise mode; reproducible"),
    ("calls_packages", pl.Int64, "Calls in node_modules packages; precise mode; reproducible"),
    ("calls_node_internals", pl.Int64, "Calls in node:* internals (median; varies in the import phase)"),
    ("calls_harness", pl.Int64, "Calls in the harness and registry shims (a few per phase)"),
    ("calls_other", pl.Int64, "Calls in eval/new Function/node:vm code (e.g. user code of the code step)"),
    ("calls_total", pl.Int64, "All calls of the phase"),
    ("calls_fetch_internals", pl.Int64, "Of the node:* calls, those in Node's bundled undici: what fetch costs"),
    ("unique_functions", pl.Int64, "Functions called at least once"),
    ("io_operations", pl.Int64, "Requests served by the stub in this phase"),
    ("rpc_methods", pl.Utf8, "JSON-RPC methods requested in this phase (comma-separated)"),
    ("duration_ms", pl.Float64, "Median wall time of the phase (clean only in timing mode)"),
    ("duration_ms_min", pl.Float64, "Fastest run"),
    ("duration_ms_max", pl.Float64, "Slowest run"),
    ("module_load_ms", pl.Float64, "Timing mode, import phase: module load time"),
    ("heap_delta_bytes", pl.Int64, "Timing mode: heapUsed after minus before, both after a forced GC"),
    ("cpu_ms", pl.Float64, "Timing mode: user + system CPU milliseconds of the phase (per execution for execute_warm)"),
    ("warm_runs", pl.Int64, "execute_warm: the warm executions per process the figures summarize"),
    ("calls_own_packages_min", pl.Int64,
     "Precise mode: the lowest own + package count of any run (warm: of any execution)"),
    ("calls_own_packages_max", pl.Int64,
     "Precise mode: the highest; differs from the min exactly when not deterministic"),
    ("samples", pl.Int64, "Sampling mode: CPU samples taken (median)"),
    ("self_ms_own", pl.Float64, "Sampling mode: self time in the step's code"),
    ("self_ms_packages", pl.Float64, "Sampling mode: self time in packages"),
    ("self_ms_node_internals", pl.Float64, "Sampling mode: self time in node:* internals"),
    ("runs", pl.Int64, "Fresh processes that produced this phase"),
    ("deterministic", pl.Boolean,
     "Precise mode: own + package counts identical in every run (and every warm "
     "execution); NULL when there is nothing to compare"),
    ("error", pl.Utf8, "Why the step failed (error row), if it did"),
    ("node_version", pl.Utf8, "Node.js version that ran the step"),
    ("isolation", pl.Utf8,
     "namespaces (own user, network and PID namespaces) or guard (the in-process "
     "egress guard only)"),
])

PLATFORM_PROFILES = STEP_PROFILES.extend("platform_profiles", [
    ("modules", pl.Utf8, "The modules imported (comma-separated)"),
])

PACKAGE_CALLS = Table.of("step_package_calls", [
    ("step_id", pl.Utf8, "Registry id, e.g. web3/check-balance"),
    ("phase", pl.Utf8,
     "import (cold start), execute (the first, cold execution on canned I/O) or "
     "execute_warm (the per-execution median of the later executions in the same "
     "process)"),
    ("package", pl.Utf8, "npm package name (scoped names keep their scope)"),
    ("calls", pl.Int64, "Calls (precise mode: median over the runs)"),
])

PROFILE_FUNCTIONS = Table.of("step_profile_functions", [
    ("step_id", pl.Utf8, "Registry id, e.g. web3/check-balance"),
    ("mode", pl.Utf8, "precise (exact call counts), sampling (CPU samples) or timing (no profiler)"),
    ("phase", pl.Utf8,
     "import (cold start), execute (the first, cold execution on canned I/O) or "
     "execute_warm (the per-execution median of the later executions in the same "
     "process)"),
    ("rank", pl.Int64, "1 = most calls (precise) or most self time (sampling) in the step's phase"),
    ("function", pl.Utf8, "Function name as V8 reports it"),
    ("category", pl.Utf8, "step, package, node, shim, harness or other (where the function's file is)"),
    ("package", pl.Utf8, "npm package name (scoped names keep their scope)"),
    ("file", pl.Utf8, "Source file of the function"),
    ("line", pl.Int64, "Line of the function (1-based)"),
    ("calls", pl.Int64, "Calls (precise mode: median over the runs)"),
    ("self_ms", pl.Float64, "Sampling mode: self time in the function"),
])

IO_REQUESTS = Table.of("step_io_requests", [
    ("step_id", pl.Utf8, "Registry id, e.g. web3/check-balance"),
    ("phase", pl.Utf8,
     "import (cold start), execute (the first, cold execution on canned I/O) or "
     "execute_warm (the per-execution median of the later executions in the same "
     "process)"),
    ("request_seq", pl.Int64, "Order of the request within the phase (1-based; a batch's calls share it)"),
    ("method", pl.Utf8, "HTTP method"),
    ("host", pl.Utf8, "Host the step addressed (requests are rewritten to the loopback stub)"),
    ("path", pl.Utf8, "Request path"),
    ("rpc_method", pl.Utf8, "JSON-RPC method, one row per call of a batch; null for other requests"),
    ("batch_size", pl.Int64, "Calls in the JSON-RPC request the row belongs to; null for other requests"),
    ("status", pl.Int64, "HTTP status the stub answered"),
    ("matched", pl.Boolean, "A canned response matched (false: the stub's default answer)"),
])
