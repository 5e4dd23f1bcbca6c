"""What each column of the cost-model tables means (shown in Dagster's column schema and the README)."""

from __future__ import annotations

COLUMN_DOCS: dict[str, dict[str, str]] = {
    "step_tiers": {
        "step_id": "Registry step id, e.g. web3/check-balance",
        "action_type": "KeeperHub action type the step implements",
        "basis": "What the tier is decided on: cost_calls | all | cold | own_packages | own_packages_node_execute",
        "tier_calls": "Calls per execution on that basis (median over the profile's repeats)",
        "calls_own_packages": "Deterministic calls: own code + npm packages, import + execute (bit-identical "
                              "run to run; equals tier_calls when basis = own_packages)",
        "calls_own": "Calls in the step's own code, import + execute",
        "calls_packages": "Calls in npm packages, import + execute",
        "calls_node_execute": "Calls in Node internals during execute",
        "calls_node_import": "Calls in Node internals during import (vary a little run to run)",
        "calls_other": "Harness/shim calls and code the step evaluates, import + execute",
        "cost_calls": "Calls per execution as production pays it: execute_warm + cold_start_rate × "
                      "(import_marginal + execute_cold − execute_warm)",
        "calls_import": "Import phase, every category (what a cold process pays to load the step)",
        "calls_import_marginal": "The import minus the shared platform import (calls_platform_import)",
        "calls_platform_import": "The modules every step imports, imported alone (platform_profiles): paid once "
                                 "per process whatever it runs",
        "calls_execute_cold": "The first execution in a fresh process (lazy initialisation, first fetch, …)",
        "calls_execute_warm": "Per execution once warm (median of the warm runs in the same process)",
        "cold_start_rate": "Share of executions that start a process (policy, per step if overridden)",
        "lightest_step": "For reference only (tiers are absolute): the step with the fewest calls on the basis",
        "ratio_to_lightest": "For reference only: tier_calls / the lightest step's",
        "tier": "light | medium | heavy by the policy's absolute thresholds; null if not tiered",
        "boundary_margin": "Distance of tier_calls to the nearest tier threshold, relative to it (on a basis "
                           "with Node's import calls, under 0.25 is noted: run-to-run noise could flip the tier)",
        "status": "ok | missing_profile | profile_error | import_only | untiered",
        "coverage": "priced | import_only (no execute profile) | not_profiled (no way to import it) | failed",
        "note": "Why a step is not tiered, or that its tier is near a threshold",
    },
    "step_pricing": {
        "step_id": "Registry step id",
        "step_type": "KeeperHub action type (the step id if unknown)",
        "tier": "From step_tiers",
        "base_units": "Policy units for the tier",
        "io_class": "none | http | chat | chain_read | chain_write",
        "io_class_source": "declared (registry) | json_rpc (write vs read methods seen) | requests | no_requests "
                           "| invalid_declared",
        "io_multiplier": "Policy units per I/O operation of that class",
        "io_operations": "Requests the step made per execution (served by the stub)",
        "io_write_operations": "Of those, requests carrying a JSON-RPC write (null when not measured)",
        "total_units": "base_units + io_multiplier × io_operations (a chain-write step: writes × chain_write + "
        "other requests × chain_read); null when the step cannot be priced",
        "status": "ok | missing_profile | profile_error | import_only | untiered | invalid_io_class | "
                  "missing_io_operations",
        "coverage": "priced | import_only (no execute profile) | not_profiled (no way to import it, see note) | "
                    "failed (see note)",
        "note": "Why a step is not priced, or a declared class that contradicts the requests",
        "latency_note": "Why a step shows no trace latency (it shares its action type with another step)",
        "tier_calls": "The calls the tier was based on",
        "calls_own_packages": "Deterministic calls (own code + npm packages), whatever the tier basis",
        "cyclomatic_complexity": "Whole-file cyclomatic complexity (static_metrics)",
        "p95_latency_ms": "95th percentile duration of the action type in the workflow traces",
    },
    "static_runtime_correlation": {
        "static_metric": "cyclomatic_complexity, lines, external_calls, await_expressions or function_calls",
        "runtime_measure": "tier_calls, execute_calls, duration_ms or io_operations",
        "n": "Steps with both values",
        "rho": "Spearman rank correlation; null unless status is ok",
        "p_value": "Two-sided p-value (scipy.stats.spearmanr)",
        "status": "ok | insufficient_data (n < 5) | constant_input | missing_column",
        "note": "Why there is no number",
    },
    "cost_breakdown": {
        "scope": "step | steps (all) | package | workflow | workflows (all)",
        "subject": "Step id, package name, workflow id, or 'all'",
        "category": "own | packages | node_internals | other (steps); database | step_functions | executor | "
                    "external_api | node_internals | other (workflows)",
        "calls": "Calls in the category",
        "share": "calls / the subject's total (null when that total is 0)",
        "share_of": "What the share is a fraction of",
    },
    "optimization_priorities": {
        "rank": "1 = largest estimated reduction; unmeasured opportunities last",
        "opportunity": "What to change",
        "area": "Where the calls it addresses are",
        "measured_share": "Share of calls the opportunity addresses",
        "estimated_reduction": "Estimated fraction of all calls saved, computed from the data (see basis)",
        "impact": "high (≥ 30 %) | medium (≥ 15 %) | low | none | not measured",
        "basis": "How the estimate was computed, with the measured figures",
        "seed_impact": "What the seed said",
        "seed_claim_holds": "Whether the estimate falls in the seed's range (null: not measured)",
    },
    "user_code_fuel": {
        "workflow_id": "Stored workflow",
        "workflow_name": "Its name",
        "node_id": "The code node",
        "node_label": "Its label",
        "code_bytes": "Size of the user code",
        "inputs_source": "last_run (inputs of the node's latest successful run) | config | none",
        "fuel_budget": "Fuel the evaluation was allowed",
        "fuel_consumed": "Fuel used (≈ wasm instructions), including the sandbox's fixed start-up",
        "memory_used": "Linear memory used (bytes)",
        "duration_ms": "Wall time of the evaluation",
        "success": "fn returned a JSON result",
        "error_kind": "out_of_fuel | syntax_error | runtime_error | timeout | empty_code | sandbox_error | …",
        "error": "The error, truncated",
    },
}
