"""`wfprof gate --baseline FILE | --base-ref REF`: compare the working tree's deterministic measures with a
baseline, against soft and hard limits, in the formats CI reads.

Exit codes: 0 within limits; 1 a hard limit exceeded; 3 a soft limit exceeded (warning); 4 a step failed
to profile on either side; 2 usage or measurement error.
"""

from __future__ import annotations

import argparse
import os


def register(sub: argparse._SubParsersAction) -> None:
    from wfprof_pipeline.commands.snapshot import add_tree_arguments

    p = sub.add_parser(
        "gate",
        help="compare the tree's deterministic cost measures with a baseline, with soft and hard limits (CI)",
        description="Exit codes: 0 within limits, 1 hard limit exceeded, 3 soft limit exceeded, 4 a step failed "
        "to profile on either side, 2 usage or measurement error.",
    )
    base = p.add_mutually_exclusive_group(required=True)
    base.add_argument("--baseline", metavar="FILE", help="a snapshot written by `wfprof snapshot`")
    base.add_argument("--base-ref", metavar="REF", help="a git commit/branch/tag, measured in a temporary worktree")
    p.add_argument("--current", metavar="FILE", help="compare this snapshot instead of measuring the working tree")
    p.add_argument("--max-increase", action="append", default=[], metavar="MEASURE=LIMIT",
                   help="hard limit, e.g. calls=10%% or complexity=2 (repeatable; none removes one); measures: "
                   "calls, units, io, complexity, fuel, user_code_fuel")
    p.add_argument("--warn-increase", action="append", default=[], metavar="MEASURE=LIMIT",
                   help="soft limit (exit 3), e.g. calls=2%%")
    p.add_argument("--max-units-increase", metavar="N",
                   help="hard limit on units per execution (= --max-increase units=N)")
    p.add_argument("--warn-units-increase", metavar="N", help="soft limit on units (= --warn-increase units=N)")
    p.add_argument("--markdown", metavar="FILE", help="write the Markdown summary to FILE (it is also appended to "
                   "$GITHUB_STEP_SUMMARY when that is set)")
    p.add_argument("--junit", metavar="FILE",
                   help="write JUnit XML: one testcase per step (or file, workload) and measure")
    p.add_argument("--json", action="store_true", help="print the result as JSON instead of the Markdown summary")
    add_tree_arguments(p)
    p.set_defaults(handler=handle)


def _write(path: str | os.PathLike[str], text: str, *, append: bool = False) -> None:
    from pathlib import Path

    from wfprof_pipeline.cli import CliError

    target = Path(path)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        with target.open("a" if append else "w", encoding="utf-8") as fh:
            fh.write(text)
    except OSError as exc:
        raise CliError(f"cannot write {target}: {exc.strerror or exc}") from None


def handle(args: argparse.Namespace) -> int:
    import sys
    from pathlib import Path

    from wfprof_pipeline.commands.snapshot import snapshot_options, step_count
    from wfprof_pipeline.lib.gate import limits as lim
    from wfprof_pipeline.lib.gate import render
    from wfprof_pipeline.lib.gate.run import GateRequest, run_gate
    from wfprof_pipeline.lib.progress import Progress
    from wfprof_pipeline.lib.settings import Settings

    hard = lim.parse_assignments(args.max_increase, flag="--max-increase")
    soft = lim.parse_assignments(args.warn_increase, flag="--warn-increase")
    if args.max_units_increase is not None:
        hard["units"] = lim.parse_limit(args.max_units_increase, measure="units", where="--max-units-increase")
    if args.warn_units_increase is not None:
        soft["units"] = lim.parse_limit(args.warn_units_increase, measure="units", where="--warn-units-increase")
    # Two snapshot files: nothing is measured, so no corpus is needed.
    root, options, policy = snapshot_options(args, need_root=not (args.baseline and args.current))
    if args.base_ref:  # a bad ref fails before anything is loaded or measured
        from wfprof_pipeline.lib.gate import gitref

        gitref.resolve_commit(gitref.toplevel(root), args.base_ref)
    table = policy.gate
    limits = lim.resolve(*([(table.hard(), table.soft())] if table else []), (hard, soft))
    request = GateRequest(
        root=root, registry=Path(args.registry) if args.registry else None, policy=policy, options=options,
        limits=limits, baseline=Path(args.baseline) if args.baseline else None, base_ref=args.base_ref,
        current=Path(args.current) if args.current else None, sections_given=bool(args.sections),
    )
    measured = (0 if args.current else 1) + (1 if args.base_ref else 0)
    total = step_count(root, args, options) * measured if measured else 0
    with Progress("gate", total) as progress:
        result = run_gate(request, on_result=lambda side, r: progress.finished(f"{side} {r.step_id}"))
    summary = render.markdown(result)
    if args.markdown:
        _write(args.markdown, summary)
    step_summary = Settings.from_env().github_step_summary
    if step_summary:
        _write(step_summary, summary, append=True)
    if args.junit:
        _write(args.junit, render.junit(result))
    sys.stdout.write(render.as_json(result) if args.json else summary)
    return result.exit_code
