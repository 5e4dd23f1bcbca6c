"""`wfprof sql "<query>"`: query the warehouse read-only and print a table."""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("sql", help="run a read-only SQL query against the DuckDB warehouse")
    p.add_argument("query", help='e.g. "select * from step_sources"')
    p.add_argument("--warehouse", help="DuckDB file (default: $WFPROF_WAREHOUSE or data/wfprof.duckdb)")
    p.add_argument("--max-rows", type=int, default=200, help="rows to print (default 200)")
    p.add_argument("--format", choices=["table", "csv", "json"], default="table")
    p.set_defaults(handler=handle)


def handle(args: argparse.Namespace) -> int:
    import duckdb

    from wfprof_pipeline.cli import CliError
    from wfprof_pipeline.lib import warehouse
    from wfprof_pipeline.lib.settings import Settings

    path = args.warehouse or Settings.from_env().warehouse
    with warehouse.session(path, read_only=True) as con:
        try:
            rel = con.sql(args.query)
        except duckdb.Error as exc:
            raise CliError(str(exc).splitlines()[0]) from None
        if rel is None:  # a statement with no result set
            return 0
        if args.format == "table":
            rel.show(max_rows=args.max_rows, max_width=200)
        elif args.format == "csv":
            import sys

            rel.pl().write_csv(sys.stdout)
        else:
            import sys

            rel.pl().write_json(sys.stdout)
            print()
    return 0
