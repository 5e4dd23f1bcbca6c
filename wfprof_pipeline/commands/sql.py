"""`wfprof sql "<query>"`: query the warehouse read-only and print a table."""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("sql", help="run a read-only SQL query against the DuckDB warehouse")
    p.add_argument("query", help='e.g. "select * from step_sources"')
    p.add_argument("--warehouse",
                   help="DuckDB file or ducklake:<catalog> (default: $WFPROF_WAREHOUSE or data/wfprof.duckdb)")
    p.add_argument("--max-rows", type=int, default=200, help="rows to print (default 200)")
    p.add_argument("--format", choices=["table", "csv", "json"], default="table")
    p.set_defaults(handler=handle)


def handle(args: argparse.Namespace) -> int:
    import duckdb

    from wfprof_pipeline.cli import CliError
    from wfprof_pipeline.lib import warehouse
    from wfprof_pipeline.lib.settings import Settings

    path = args.warehouse or Settings.from_env().warehouse
    # Read-only for real: the warehouse opened read-only, and no other file, no network, no extension.
    with warehouse.session(path, read_only=True, locked_down=True) as con:
        try:
            rel = con.sql(args.query)
        except duckdb.Error as exc:
            raise CliError(error_text(exc)) from None
        if rel is None:  # a statement with no result set
            return 0
        try:
            if args.format == "table":
                rounded(rel).show(max_rows=args.max_rows, max_width=200)
            elif args.format == "csv":
                import sys

                rel.pl().write_csv(sys.stdout)
            else:
                import sys

                rel.pl().write_json(sys.stdout)
                print()
        except duckdb.Error as exc:  # errors raised while the result is produced (casts, files, …)
            raise CliError(error_text(exc)) from None
    return 0


# DuckDB's hints worth keeping below the error's first line.
_HINTS = ("Did you mean", "Candidate bindings", "Candidate functions", "Candidate tables")
SIGNIFICANT_DIGITS = 12


def error_text(exc: Exception) -> str:
    """The error's first line plus DuckDB's hint lines (`Did you mean "step_sources"?`), nothing else."""
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    if not lines:
        return type(exc).__name__
    hints = [line for line in lines[1:] if line.startswith(_HINTS)]
    return "\n".join([lines[0], *hints])


def rounded(rel):  # noqa: ANN001, ANN201 - duckdb relations, imported lazily
    """Floating-point columns at 12 significant digits for display (414.5999999999999 → 414.6)."""
    exprs, changed = [], False
    for name, dtype in zip(rel.columns, rel.types, strict=True):
        quoted = '"' + name.replace('"', '""') + '"'
        if str(dtype) in ("DOUBLE", "FLOAT"):
            changed = True
            digits = f"{SIGNIFICANT_DIGITS - 1} - cast(floor(log10(abs({quoted}))) as integer)"
            exprs.append(f"case when {quoted} = 0 or not isfinite({quoted}) then {quoted} "
                         f"else round({quoted}, greatest(0, least(30, {digits}))) end as {quoted}")
        else:
            exprs.append(quoted)
    return rel.project(", ".join(exprs)) if changed else rel
