"""`wfprof calibrate [--json] [--output=FILE]`: WASM fuel per operation type (the seed's profile:calibrate)."""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "calibrate",
        help="measure WASM fuel per JS operation type and fit cost curves (SANDBOX_URL or embedded QuickJS)",
        description="Runs the seed's operation types at 4 sizes each in QuickJS-NG under wasmtime (embedded, or "
        "the sandbox at $SANDBOX_URL), fits fuel = fixed + fuel_per_op × ops, and derives fuel budgets.",
    )
    p.add_argument("--json", action="store_true", help="print the seed's JSON document (plus fits and budgets)")
    p.add_argument("--output", metavar="FILE", help="also write the JSON document to FILE")
    p.add_argument("--repeats", type=int, default=2, help="evaluations per measurement; fuel must not vary (2)")
    p.add_argument("--sandbox-url", help="remote sandbox (default: $SANDBOX_URL; unset = embedded)")
    p.set_defaults(handler=handle)


def handle(args: argparse.Namespace) -> int:
    import json
    from pathlib import Path

    from wfprof_pipeline.cli import CliError
    from wfprof_pipeline.lib.fuel.calibrate import calibrate, seed_json, text_report
    from wfprof_pipeline.lib.fuel.protocol import open_evaluator, sandbox_info
    from wfprof_pipeline.lib.fuel.workloads import WORKLOADS
    from wfprof_pipeline.lib.progress import Progress
    from wfprof_pipeline.lib.settings import Settings

    if args.repeats < 1:
        raise CliError("--repeats must be at least 1")
    out = Path(args.output) if args.output else None
    if out is not None:  # fail before measuring, not after; a typo in the folder must not create one
        folder = out.parent if str(out.parent) else Path(".")
        if not folder.is_dir():
            raise CliError(f"cannot write {out}: folder {folder} does not exist")
        if out.is_dir():
            raise CliError(f"cannot write {out}: it is a folder")
    url = args.sandbox_url or Settings.from_env().sandbox_url
    evaluator = open_evaluator(url)
    info = sandbox_info(evaluator)
    with Progress(f"calibrate ({info.label})", len(WORKLOADS)) as progress:
        cal = calibrate(evaluator, sandbox=info.label, wasmtime_version=info.wasmtime_version,
                        quickjs_version=info.quickjs_version, repeats=args.repeats, progress=progress.step)
    document = seed_json(cal)
    if out is not None:
        try:
            out.write_text(json.dumps(document, indent=2) + "\n")
        except OSError as exc:
            raise CliError(f"cannot write {out}: {exc.strerror or exc}") from None
    if args.json:
        print(json.dumps(document, indent=2))
    else:
        print(text_report(cal))
        if args.output:
            print(f"\n  JSON written to {args.output}")
    failed = [m for m in cal.measurements if not m.success]
    return 1 if failed or not cal.deterministic else 0
