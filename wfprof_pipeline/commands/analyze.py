"""`wfprof analyze`: the seed's `profile:analyze` — static metrics per step file, per function, external calls.

Only tree-sitter and the standard library are imported (no dagster, polars, duckdb or pydantic): the whole
process on a 40-file corpus has to finish in a fraction of a second.
"""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "analyze",
        help="static analysis of the step code: complexity, awaits, calls, external calls (seed: profile:analyze)",
        description="Per step file: the seed's metrics (lines, awaits, calls, conditionals, loops, try/throw, "
        "cyclomatic complexity), ESLint-exact per-function complexity and classified external calls.",
    )
    p.add_argument("--root", help="corpus root in KeeperHub layout (default: $WFPROF_STEPS_ROOT or data/steps)")
    p.add_argument("--plugin", help="only this plugin's steps")
    p.add_argument("--json", action="store_true", help="print the seed's JSON shape (camelCase keys)")
    p.add_argument("--verbose", action="store_true", help="text output with details, external calls, functions")
    p.add_argument("--functions", action="store_true", help="list functions by complexity instead, hottest first")
    p.add_argument("--limit", type=int, default=50, help="functions to list in text mode (0 = all; default 50)")
    p.add_argument(
        "--glob",
        action="append",
        metavar="PATTERN",
        help="step file glob under the root, repeatable (default: plugins/*/steps/* and keeperhub/plugins/*/steps/*)",
    )
    p.add_argument("--rules", help="external-call rules JSON (default: $WFPROF_EXTERNAL_CALL_RULES or built-in)")
    p.add_argument(
        "--budget",
        type=float,
        metavar="N",
        help="exit with status 1 when the average cyclomatic complexity exceeds N (the seed's CI gate)",
    )
    p.set_defaults(handler=handle)


def handle(args: argparse.Namespace) -> int:
    import json
    import sys
    from pathlib import Path

    from wfprof_pipeline.cli import CliError
    from wfprof_pipeline.lib.corpus import DEFAULT_GLOBS, require_steps
    from wfprof_pipeline.lib.settings import Settings
    from wfprof_pipeline.lib.static.analyze import analyze_file
    from wfprof_pipeline.lib.static.external_calls import load_rules
    from wfprof_pipeline.lib.static.report import functions_json, functions_text, seed_json, summarize, text_report

    if args.limit < 0:
        raise CliError("--limit must be 0 (all) or a positive number")
    if args.budget is not None and not args.budget >= 1:  # NaN would silently pass every gate
        raise CliError(f"--budget must be a number ≥ 1 (the lowest complexity a file can have), got {args.budget:g}")
    settings = Settings.from_env()
    root = Path(args.root) if args.root else settings.steps_root
    globs = tuple(args.glob) if args.glob else DEFAULT_GLOBS
    rules = load_rules(args.rules or settings.external_call_rules)
    files = require_steps(root, globs)
    if args.plugin is not None:
        plugins = sorted({f.plugin for f in files})
        files = [f for f in files if f.plugin == args.plugin]
        if not files:
            raise CliError(f"no steps for plugin {args.plugin!r} under {root} (plugins: {', '.join(plugins)})")
    results = [analyze_file(f, rules) for f in files]

    if args.functions:
        if args.json:
            text = json.dumps(functions_json(results), indent=2)
        else:
            text = functions_text(results, limit=args.limit or None)
    elif args.json:
        text = json.dumps(seed_json(results), indent=2)
    else:
        text = text_report(results, root=str(root), verbose=args.verbose)
    sys.stdout.write(text + "\n")

    if args.budget is not None:
        average = summarize(results).avg_cyclomatic_complexity
        if average > args.budget:
            shown = f"{average:.2f}"
            if float(shown) <= args.budget:  # the mean is unrounded: show the digits that exceed the budget
                shown = f"{average:.6g}"
            print(
                f"wfprof: average cyclomatic complexity {shown} exceeds the budget {args.budget:g}",
                file=sys.stderr,
            )
            return 1
    return 0
