"""`wfprof demo seed`: store data/workflows/ in the KeeperHub database and run each through the runner."""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("demo", help="fill the demo KeeperHub database with real workflow executions")
    p.add_argument("action", choices=["seed"])
    p.add_argument("--force", action="store_true", help="run the demo workflows even if executions exist")
    p.add_argument("--dir", help="workflow definitions (default: data/workflows)")
    p.set_defaults(handler=handle)


def handle(args: argparse.Namespace) -> int:
    from pathlib import Path

    from wfprof_pipeline.lib import keeperhub
    from wfprof_pipeline.lib.registry import load_for_root
    from wfprof_pipeline.lib.settings import Settings
    from wfprof_pipeline.lib.workflows import demo

    settings = Settings.from_env()
    url = keeperhub.database_url(settings)
    embedded = keeperhub.is_embedded_demo(url, settings)
    registry = load_for_root(settings.steps_root)
    directory = Path(args.dir) if args.dir else demo.DEFAULT_DIR
    from wfprof_pipeline.lib.progress import Progress

    with Progress("demo seed", len(demo.load_definitions(directory))) as progress:
        result = demo.seed(url, registry, directory=directory, node=settings.node, only_if_empty=not args.force,
                           on_workflow=progress.finished)
    where = "the embedded demo database" if embedded else "DATABASE_URL"
    if result.skipped:
        print(f"{where} already has executions; nothing done (use --force to add more)")
        return 0
    print(
        f"ran {result.workflows} workflows into {where}: {result.executions} executions "
        f"({result.failed_executions} failed on purpose or not) in {result.seconds:.1f} s"
    )
    for wid, (runs, failed) in sorted(result.per_workflow.items()):
        print(f"  {wid:<24} {runs} runs, {failed} failed")
    return 0
