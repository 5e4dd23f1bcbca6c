"""`wfprof profile`: the seed's `profile:step` — V8 profiles of steps, each in a fresh Node process.

    wfprof profile --step web3/check-balance            sampling mode (the seed's default)
    wfprof profile --step web3/check-balance --precise  exact call counts
    wfprof profile --all --dry-run --precise            import phase only, every step
    wfprof profile --compare web3/check-balance,web3/check-balance-viem --precise
"""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("profile", help="profile steps with V8 (fresh Node process per step)")
    which = p.add_mutually_exclusive_group(required=True)
    which.add_argument("--step", help="one step id (plugin/file stem) or action type, e.g. web3/check-balance")
    which.add_argument("--all", action="store_true", help="every discovered and registered step")
    which.add_argument("--compare", metavar="A,B", help="comma-separated step ids, compared side by side")
    p.add_argument("--precise", action="store_true", help="exact call counts (V8 precise coverage) "
                   "instead of CPU sampling")
    p.add_argument("--dry-run", action="store_true", help="import phase only (cold start), do not execute")
    p.add_argument("--input", metavar="JSON", help="step input as a JSON object (overrides the registry's)")
    p.add_argument("--warm-runs", type=int, default=5, help="warm executions after the first, in the same process "
                   "(default 5; 0 = no warm phase; a registry entry's warm_runs wins)")
    p.add_argument("--repeat", type=int, default=1, help="fresh processes per step and mode (default 1; "
                   "≥2 also checks that exact counts are deterministic)")
    p.add_argument("--json", action="store_true", help="print the seed's ProfileResult JSON (plus per-phase "
                   "and per-category numbers)")
    p.add_argument("--no-timing", action="store_true", help="skip the unprofiled timing run (durationMs, "
                   "memoryUsedMB)")
    p.add_argument("--interval", type=int, default=100, help="sampling interval in µs (default 100)")
    p.add_argument("--timeout", type=float, default=60.0, help="seconds per step process (default 60)")
    p.add_argument("--jobs", type=int, default=0, help="parallel processes (default: cores)")
    p.add_argument("--top", type=int, default=10, help="top functions to keep (default 10)")
    p.add_argument("--root", help="step corpus root (default: $WFPROF_STEPS_ROOT or data/steps)")
    p.add_argument("--registry", help="step registry TOML (default: <root>/registry.toml)")
    p.set_defaults(handler=handle)


def _parse_input(text: str | None) -> dict | None:
    import json

    from wfprof_pipeline.cli import CliError

    if text is None:
        return None
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise CliError(f"--input is not valid JSON: {exc}") from None
    if not isinstance(value, dict):
        raise CliError(f"--input must be a JSON object, got {type(value).__name__}")
    return value


def handle(args: argparse.Namespace) -> int:
    import json
    import sys
    from pathlib import Path

    from wfprof_pipeline.cli import CliError
    from wfprof_pipeline.lib.profiling.report import profile_results, render_comparison, render_table
    from wfprof_pipeline.lib.profiling.runner import ProfileOptions, profile_steps
    from wfprof_pipeline.lib.profiling.summary import summarize
    from wfprof_pipeline.lib.registry import load_for_root
    from wfprof_pipeline.lib.settings import Settings

    settings = Settings.from_env()
    if args.repeat < 1:
        raise CliError("--repeat must be at least 1")
    if args.warm_runs < 0:
        raise CliError(f"--warm-runs must be 0 (no warm phase) or more, got {args.warm_runs}")
    step_input = _parse_input(args.input)
    root = Path(args.root) if args.root else settings.steps_root
    if not root.is_dir():
        raise CliError(f"step corpus root {root} does not exist (use --root or WFPROF_STEPS_ROOT)")
    registry = load_for_root(root, args.registry)
    if args.all:
        if step_input is not None:
            raise CliError("--input applies to --step or --compare, not --all")
        ids = registry.ids
    elif args.compare:
        ids = list(dict.fromkeys(s.strip() for s in args.compare.split(",") if s.strip()))
        if len(ids) < 2:
            raise CliError("--compare needs at least two different comma-separated step ids")
    else:
        ids = [args.step]
    ids = [registry.resolve_id(i) for i in ids]  # an action type names its step; unknown ids list the known
    if len(set(ids)) < len(ids):
        raise CliError("--compare names the same step twice (an id and its action type?)")

    mode = "precise" if args.precise else "sampling"
    modes = (mode,) if args.no_timing else (mode, "timing")
    options = ProfileOptions(
        modes=modes,
        repeat=args.repeat,
        warm_runs=args.warm_runs,
        phases=("import",) if args.dry_run else ("import", "execute"),
        timeout_s=args.timeout,
        jobs=args.jobs or None,
        sampling_interval_us=args.interval,
        top_n=args.top,
        node=settings.node,
        input_overrides={i: step_input for i in ids} if step_input is not None else {},
    )
    from wfprof_pipeline.lib.progress import Progress

    processes = len(registry.select(ids)) * sum(options.repeats(m) for m in options.modes)
    with Progress("profile", processes) as progress:
        results = profile_steps(
            registry, ids, options, on_result=lambda r: progress.finished(f"{r.step_id} ({r.mode})")
        )
    summary = summarize(results)
    if args.json:
        payload = profile_results(summary, registry, mode=mode, step_ids=ids)
        print(json.dumps(payload[0] if args.step else payload, indent=2))
    elif args.compare:
        print(render_comparison(summary, mode=mode, step_ids=ids))
    else:
        print(render_table(summary, registry, mode=mode, step_ids=ids, dry_run=args.dry_run))
    for warning in registry.warnings:
        print(f"note: {warning}", file=sys.stderr)
    return 1 if any(r.failed for r in results) else 0
