"""The cost model's warehouse tables, each declared once (column, type, meaning)."""

import polars as pl

from wfprof_pipeline.lib.tables import Table

STEP_TIERS = Table.of("step_tiers", [
    ("step_id", pl.Utf8, "Registry step id, e.g. web3/check-balance"),
    ("action_type", pl.Utf8, "KeeperHub action type the step implements"),
    ("basis", pl.Utf8,
     "What the tier is decided on: cost_calls | all | cold | own_packages | "
     "own_packages_node_execute"),
    ("tier_calls", pl.Int64, "Calls per execution on that basis (median over the profile's repeats)"),
    ("calls_own_packages", pl.Int64,
     "Deterministic calls: own code + npm packages, import + execute (bit-identical run to run; "
     "equals tier_calls when basis = own_packages)"),
    ("calls_own", pl.Int64, "Calls in the step's own code, import + execute"),
    ("calls_packages", pl.Int64, "Calls in npm packages, import + execute"),
    ("calls_node_execute", pl.Int64, "Calls in Node internals during execute"),
    ("calls_node_import", pl.Int64, "Calls in Node internals during import (vary a little run to run)"),
    ("calls_other", pl.Int64, "Harness/shim calls and code the step evaluates, import + execute"),
    ("cost_calls", pl.Int64,
     "Calls per execution as production pays it: execute_warm + cold_start_rate × "
     "(import_marginal + execute_cold − execute_warm)"),
    ("calls_import", pl.Int64, "Import phase, every category (what a cold process pays to load the step)"),
    ("calls_import_marginal", pl.Int64, "The import minus the shared platform import (calls_platform_import)"),
    ("calls_platform_import", pl.Int64,
     "The modules every step imports, imported alone (platform_profiles): paid once per process "
     "whatever it runs"),
    ("calls_execute_cold", pl.Int64, "The first execution in a fresh process (lazy initialisation, first fetch, …)"),
    ("calls_execute_warm", pl.Int64, "Per execution once warm (median of the warm runs in the same process)"),
    ("cold_start_rate", pl.Float64, "Share of executions that start a process (policy, per step if overridden)"),
    ("lightest_step", pl.Utf8, "For reference only (tiers are absolute): the step with the fewest calls on the basis"),
    ("ratio_to_lightest", pl.Float64, "For reference only: tier_calls / the lightest step's"),
    ("tier", pl.Utf8, "light | medium | heavy by the policy's absolute thresholds; null if not tiered"),
    ("boundary_margin", pl.Float64,
     "Distance of tier_calls to the nearest tier threshold, relative to it (on a basis with "
     "Node's import calls, under 0.25 is noted: run-to-run noise could flip the tier)"),
    ("status", pl.Utf8, "ok | missing_profile | profile_error | import_only | untiered"),
    ("coverage", pl.Utf8, "priced | import_only (no execute profile) | not_profiled (no way to import it) | failed"),
    ("note", pl.Utf8, "Why a step is not tiered, or that its tier is near a threshold"),
])

STEP_PRICING = Table.of("step_pricing", [
    ("step_id", pl.Utf8, "Registry step id"),
    ("step_type", pl.Utf8, "KeeperHub action type (the step id if unknown)"),
    ("tier", pl.Utf8, "From step_tiers"),
    ("base_units", pl.Float64, "Policy units for the tier"),
    ("io_class", pl.Utf8, "none | http | chat | chain_read | chain_write"),
    ("io_class_source", pl.Utf8,
     "declared (registry) | json_rpc (write vs read methods seen) | requests | no_requests | "
     "invalid_declared"),
    ("io_multiplier", pl.Float64, "Policy units per I/O operation of that class"),
    ("io_operations", pl.Float64, "Requests the step made per execution (served by the stub)"),
    ("io_write_operations", pl.Float64, "Of those, requests carrying a JSON-RPC write (null when not measured)"),
    ("total_units", pl.Float64,
     "base_units + io_multiplier × io_operations (a chain-write step: writes × chain_write + "
     "other requests × chain_read); null when the step cannot be priced"),
    ("status", pl.Utf8,
     "ok | missing_profile | profile_error | import_only | untiered | invalid_io_class | "
     "missing_io_operations"),
    ("coverage", pl.Utf8,
     "priced | import_only (no execute profile) | not_profiled (no way to import it, see note) | "
     "failed (see note)"),
    ("note", pl.Utf8, "Why a step is not priced, or a declared class that contradicts the requests"),
    ("tier_calls", pl.Int64, "The calls the tier was based on"),
    ("calls_own_packages", pl.Int64, "Deterministic calls (own code + npm packages), whatever the tier basis"),
    ("cyclomatic_complexity", pl.Int64, "Whole-file cyclomatic complexity (static_metrics)"),
    ("p95_latency_ms", pl.Float64, "95th percentile duration of the action type in the workflow traces"),
    ("latency_note", pl.Utf8, "Why a step shows no trace latency (it shares its action type with another step)"),
])

STATIC_RUNTIME_CORRELATION = Table.of("static_runtime_correlation", [
    ("static_metric", pl.Utf8, "cyclomatic_complexity, lines, external_calls, await_expressions or function_calls"),
    ("runtime_measure", pl.Utf8, "tier_calls, execute_calls, duration_ms or io_operations"),
    ("n", pl.Int64, "Steps with both values"),
    ("rho", pl.Float64, "Spearman rank correlation; null unless status is ok"),
    ("p_value", pl.Float64, "Two-sided p-value (scipy.stats.spearmanr)"),
    ("status", pl.Utf8, "ok | insufficient_data (n < 5) | constant_input | missing_column"),
    ("note", pl.Utf8, "Why there is no number"),
])

COST_BREAKDOWN = Table.of("cost_breakdown", [
    ("scope", pl.Utf8, "step | steps (all) | package | workflow | workflows (all)"),
    ("subject", pl.Utf8, "Step id, package name, workflow id, or 'all'"),
    ("category", pl.Utf8,
     "own | packages | node_internals | other (steps); database | step_functions | executor | "
     "external_api | node_internals | other (workflows)"),
    ("calls", pl.Int64, "Calls in the category"),
    ("share", pl.Float64, "calls / the subject's total (null when that total is 0)"),
    ("share_of", pl.Utf8, "What the share is a fraction of"),
])

OPTIMIZATION_PRIORITIES = Table.of("optimization_priorities", [
    ("rank", pl.Int64, "1 = largest estimated reduction; unmeasured opportunities last"),
    ("opportunity", pl.Utf8, "What to change"),
    ("area", pl.Utf8, "Where the calls it addresses are"),
    ("measured_share", pl.Float64, "Share of calls the opportunity addresses"),
    ("estimated_reduction", pl.Float64, "Estimated fraction of all calls saved, computed from the data (see basis)"),
    ("impact", pl.Utf8, "high (≥ 30 %) | medium (≥ 15 %) | low | none | not measured"),
    ("basis", pl.Utf8, "How the estimate was computed, with the measured figures"),
    ("seed_impact", pl.Utf8, "What the seed said"),
    ("seed_claim_holds", pl.Boolean, "Whether the estimate falls in the seed's range (null: not measured)"),
])

CALLS_CPU_FIT = Table.of("calls_cpu_fit", [
    ("calls_measure", pl.Utf8, "The calls side: execute_warm calls (every category)"),
    ("cpu_measure", pl.Utf8, "The CPU side: warm_cpu_ms of the timing run"),
    ("n", pl.Int64, "Steps with both warm calls and warm CPU time"),
    ("rho", pl.Float64, "Spearman rank correlation of calls and CPU ms; null unless status is ok"),
    ("p_value", pl.Float64, "Two-sided p-value of rho"),
    ("ms_per_1k_calls", pl.Float64, "Median over the steps of CPU ms per 1,000 calls"),
    ("ms_per_1k_calls_p25", pl.Float64, "Its lower quartile"),
    ("ms_per_1k_calls_p75", pl.Float64, "Its upper quartile"),
    ("slope_ms_per_1k_calls", pl.Float64, "Least-squares slope: CPU ms per 1,000 more calls"),
    ("intercept_ms", pl.Float64, "Least-squares intercept: CPU ms at zero calls"),
    ("r_squared", pl.Float64, "Coefficient of determination of the line"),
    ("status", pl.Utf8, "ok | insufficient_data | constant_input | missing_column"),
    ("note", pl.Utf8, "Why there is no number, or how far to trust it"),
])

STEP_COST_HISTORY = Table.of("step_cost_history", [
    ("materialized_at", pl.Datetime("us", "UTC"), "When the prices were computed (UTC)"),
    ("run_id", pl.Utf8, "The Dagster run that computed them"),
    ("step_id", pl.Utf8, "Registry step id"),
    ("source_sha256", pl.Utf8, "Hash of the step file and the helpers it imports"),
    ("lockfile_sha256", pl.Utf8, "Hash of the corpus' lock files (a dependency change shows here)"),
    ("calls_import", pl.Int64, "Import phase, every category"),
    ("calls_import_marginal", pl.Int64, "The import minus the shared platform import"),
    ("calls_execute_cold", pl.Int64, "The first execution in a fresh process"),
    ("calls_execute_warm", pl.Int64, "Per execution once warm"),
    ("calls_own_packages", pl.Int64, "Deterministic calls: own code + npm packages"),
    ("cost_calls", pl.Int64, "Calls per execution as production pays it (step_tiers.cost_calls)"),
    ("tier", pl.Utf8, "light | medium | heavy; null if not tiered"),
    ("total_units", pl.Float64, "The step's price in policy units (step_pricing.total_units)"),
    ("coverage", pl.Utf8, "priced | import_only | not_profiled | failed"),
])
# The step_pricing columns that come from the per-step measurements, not from pricing (joined on last).
PRICING_CONTEXT = ("tier_calls", "calls_own_packages", "cyclomatic_complexity", "p95_latency_ms", "latency_note")
