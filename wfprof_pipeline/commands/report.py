"""`wfprof report` (the seed's `profile:report`): tiers, prices, the seed's claims and priorities from the
warehouse's measurements, printed, plus the self-contained HTML report."""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("report", help="print the cost model (tiers, prices, priorities) and write the HTML report")
    p.add_argument("--warehouse", help="DuckDB file (default: $WFPROF_WAREHOUSE or data/wfprof.duckdb)")
    p.add_argument("--policy", help="a what-if pricing policy (TOML/JSON): prices under it beside the current "
                   "ones, written to <reports dir>/cost_report.whatif-<policy name>.html (never the nightly report)")
    p.add_argument("--output", help="HTML file to write (default: <reports dir>/cost_report.html, or the what-if "
                   "file with --policy)")
    p.add_argument("--no-html", action="store_true", help="print only; do not write the HTML report")
    p.add_argument("--json", action="store_true", help="print the model as JSON instead of tables")
    p.add_argument("--scenarios", action="store_true", help="print the billing what-ifs (pricing_scenarios): "
                   "revenue per model and customer against the current model, and who moves most")
    p.set_defaults(handler=handle)


def handle(args: argparse.Namespace) -> int:
    import time
    from pathlib import Path

    from wfprof_pipeline.lib.errors import WfprofError
    from wfprof_pipeline.lib.settings import Settings, is_ducklake_spec

    started = time.monotonic()
    settings = Settings.from_env()
    path = args.warehouse or settings.warehouse
    if args.policy:  # a bad policy file is the first thing to say (pydantic only: still fast)
        from wfprof_pipeline.lib.cost_model.policy import load_policy

        load_policy(args.policy)
    # Before the heavy imports (polars, scipy: seconds): a missing warehouse is said at once.
    if is_ducklake_spec(path):  # its catalog says whether it exists, when it is opened
        return _report(args, settings, path, started)
    if not Path(path).exists():
        raise WfprofError(f"warehouse {path} does not exist yet: run `wfprof run` first")
    return _report(args, settings, Path(path), started)


def camel(name: str) -> str:
    """`step_id` → `stepId`: the seed's JSON style (README: `--json` keys are camelCase)."""
    head, *rest = name.split("_")
    return head + "".join(part[:1].upper() + part[1:] for part in rest)


def camel_keys(value: object) -> object:
    if isinstance(value, dict):
        return {camel(str(k)): camel_keys(v) for k, v in value.items()}
    if isinstance(value, list):
        return [camel_keys(v) for v in value]
    return value


def _report(args: argparse.Namespace, settings, path, started: float) -> int:  # noqa: ANN001
    import datetime as dt
    import json
    import time
    from pathlib import Path

    import duckdb

    from wfprof_pipeline.cli import CliError
    from wfprof_pipeline.lib import warehouse
    from wfprof_pipeline.lib.cost_model.history import changes, policy_changes
    from wfprof_pipeline.lib.cost_model.inputs import read_inputs, read_table
    from wfprof_pipeline.lib.cost_model.model import compute_cost_model
    from wfprof_pipeline.lib.cost_model.policy import load_policy
    from wfprof_pipeline.lib.cost_model.report import REPORT_FILE, write_report
    from wfprof_pipeline.lib.usage.report import UsageTables

    current = load_policy()
    policy = load_policy(args.policy) if args.policy else current
    try:
        with warehouse.session(path, read_only=True) as con:
            inputs = read_inputs(con, settings.steps_root)
            user_code = read_table(con, "user_code_fuel")
            history = read_table(con, "step_cost_history")
            usage = UsageTables.read(con)
    except duckdb.Error as exc:  # e.g. not a DuckDB file
        raise CliError(f"cannot read warehouse {path}: {str(exc).splitlines()[0]}") from None
    model = compute_cost_model(inputs, policy)
    if args.policy:  # a what-if: the difference from the current prices, in its own file
        delta = policy_changes(compute_cost_model(inputs, current).pricing, model.pricing)
        label = "vs the current policy"
        output = Path(args.output) if args.output else \
            settings.reports_dir / f"cost_report.whatif-{Path(args.policy).stem}.html"
        if output.resolve() == (settings.reports_dir / REPORT_FILE).resolve():
            raise CliError(f"a what-if report never replaces the nightly {output}: choose another --output")
    else:
        delta, label = changes(history), "since last night"
        output = Path(args.output) if args.output else None

    html_path = None
    if not args.no_html:
        try:
            html_path = write_report(model, settings.reports_dir, dt.datetime.now(dt.UTC), user_code,
                                     path=output, changes=delta, change_label=label, usage=usage)
        except OSError as exc:
            raise CliError(f"cannot write the HTML report: {exc}") from None

    if args.json:
        doc = {
            "tiers": model.tiers.to_dicts(),
            "pricing": model.pricing.to_dicts(),
            "correlation": model.correlation.to_dicts(),
            "breakdown": model.breakdown.to_dicts(),
            "priorities": model.priorities.to_dicts(),
            "claims": [c.__dict__ for c in model.claims],
            "changes": delta.to_dicts(),
            "missing": inputs.missing,
            "report": str(html_path) if html_path else None,
        }
        print(json.dumps(camel_keys(doc), indent=2, default=str))
        return 0

    if args.scenarios:
        _print_scenarios(usage.pricing_scenarios)
        if html_path:
            print(f"\nreport: {html_path}")
        return 0
    _print_model(model)
    _print_changes(delta, label)
    if html_path:
        print(f"\nreport: {html_path}")
    print(f"computed in {time.monotonic() - started:.2f} s")
    return 0


def _print_changes(delta, label: str) -> None:  # noqa: ANN001 - a polars frame, imported lazily
    import polars as pl

    moved = delta.filter((pl.col("units_change").fill_null(0) != 0) | pl.col("new_step").fill_null(False)
                         | (pl.col("tier_before") != pl.col("tier_after")).fill_null(False))
    print(f"\nPrice changes {label}: " + ("none" if not moved.height else ""))
    for r in moved.iter_rows(named=True):
        before = "new" if r["new_step"] else f"{r['units_before'] if r['units_before'] is not None else '—'}"
        print(f"  {r['step_id']}: {before} -> {r['units_after'] if r['units_after'] is not None else '—'} units"
              f" (tier {r['tier_before'] or '—'} -> {r['tier_after'] or '—'})")
    edited = delta.filter(pl.col("source_changed").fill_null(False) | pl.col("dependencies_changed").fill_null(False))
    if edited.height:
        print("  source or dependencies changed: " + ", ".join(edited["step_id"].to_list()))


def _print_scenarios(scenarios) -> None:  # noqa: ANN001 - a polars frame or None, imported lazily
    import polars as pl

    from wfprof_pipeline.lib.usage.scenarios import MODELS, totals

    if scenarios is None:
        print("no pricing_scenarios table yet: run `wfprof run` (it prices the ingested traces)")
        return
    if not scenarios.height:
        print("pricing_scenarios is empty: no charged executions in the window")
        return
    first = scenarios.row(0, named=True)
    print(f"Billing models over {first['window_start']} … {first['window_end']} (change = against the current "
          "model, units; positive: the customer pays more)")
    for model, text in MODELS.items():
        print(f"  {model}: {text}")
    with pl.Config(tbl_rows=200, tbl_cols=20, fmt_str_lengths=60, tbl_width_chars=200,
                   tbl_hide_dataframe_shape=True, tbl_hide_column_data_types=True, float_precision=4):
        print(totals(scenarios))
        print(scenarios.select("model", "subject", "executions", "quantity", "revenue", "current_revenue", "change",
                               "change_pct", "change_rank"))


def _print_model(model) -> None:  # noqa: ANN001 - CostModel, imported lazily
    import polars as pl

    def show(title: str, frame: pl.DataFrame) -> None:
        print(f"\n{title}")
        if not frame.height:
            print("  (none)")
            return
        with pl.Config(tbl_rows=100, tbl_cols=20, fmt_str_lengths=80, tbl_width_chars=200,
                       tbl_hide_dataframe_shape=True, tbl_hide_column_data_types=True, thousands_separator=True,
                       float_precision=2):
            print(frame)

    show(f"Step tiers (tier_calls: {model.policy.tiers.basis}; calls_own_packages: deterministic)",
         model.tiers.select("step_id", "tier", "tier_calls", "calls_execute_warm", "calls_execute_cold",
                            "calls_import_marginal", "calls_own_packages", "boundary_margin", "coverage"))
    show("Step pricing (total = base + multiplier × I/O operations)",
         model.pricing.select("step_id", "tier", "base_units", "io_class", "io_multiplier", "io_operations",
                              "total_units", "status"))
    show("Static vs runtime (Spearman)",
         model.correlation.filter(pl.col("runtime_measure") == "tier_calls")
         .select("static_metric", "runtime_measure", "n", "rho", "p_value", "status"))
    show("Optimization priorities",
         model.priorities.select("rank", "opportunity", "measured_share", "estimated_reduction", "impact",
                                 "seed_impact"))
    print("\nThe seed's claims")
    for c in model.claims:
        verdict = {True: "holds", False: "DOES NOT HOLD", None: "not measured"}[c.holds]
        print(f"  [{verdict}] {c.claim}\n      measured: {c.measured}")
    unpriced = model.pricing.filter(pl.col("total_units").is_null())
    for row in unpriced.iter_rows(named=True):
        print(f"\nnot priced: {row['step_id']} ({row['status']}: {row['note']})")
    for m in model.inputs.missing:
        print(f"missing: {m}")
