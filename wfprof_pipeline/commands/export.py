"""`wfprof export usage|prices`: usage events for metering systems, and the price book that explains them."""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("export", help="export priced usage (CloudEvents or CSV) or the price book")
    what = p.add_subparsers(dest="what", metavar="WHAT")
    what.required = True
    u = what.add_parser("usage", help="one event per execution of the day(s), from execution_costs")
    days = u.add_mutually_exclusive_group(required=True)
    days.add_argument("--day", help="a UTC day, YYYY-MM-DD")
    days.add_argument("--from", dest="first", help="first UTC day of a range (with --to)")
    u.add_argument("--to", dest="last", help="last UTC day of the range (inclusive)")
    u.add_argument("--format", choices=["cloudevents", "csv"], default="cloudevents",
                   help="cloudevents: a JSON batch (application/cloudevents-batch+json); csv: the same fields")
    u.add_argument("--output", help="file to write (default: standard output)")
    u.add_argument("--warehouse", help="DuckDB file (default: $WFPROF_WAREHOUSE or data/wfprof.duckdb)")
    u.set_defaults(handler=handle_usage)
    b = what.add_parser("prices", help="the price book: the policy, its digest and units per step type (JSON)")
    b.add_argument("--output", help="file to write (default: standard output)")
    b.add_argument("--warehouse", help="DuckDB file (default: $WFPROF_WAREHOUSE or data/wfprof.duckdb)")
    b.set_defaults(handler=handle_prices)


def _request(args: argparse.Namespace):  # noqa: ANN202 - UsageExportRequest, imported lazily
    from pydantic import ValidationError

    from wfprof_pipeline.lib.errors import UsageError
    from wfprof_pipeline.lib.usage.export import UsageExportRequest

    if args.first and not args.last:
        raise UsageError("--from needs --to (or give one --day)")
    if args.day and args.last:
        raise UsageError("--to goes with --from, not with --day")
    first, last = (args.day, args.day) if args.day else (args.first, args.last)
    try:
        return UsageExportRequest(first=first, last=last, format=args.format)
    except ValidationError as exc:
        err = exc.errors()[0]
        field = {"first": "--from/--day", "last": "--to/--day"}.get(str(err["loc"][0]) if err["loc"] else "", "")
        raise UsageError(f"{field + ': ' if field else ''}{err['msg'].removeprefix('Value error, ')} "
                         "(days are YYYY-MM-DD)") from None


def _emit(text: str, output: str | None) -> None:
    import sys
    from pathlib import Path

    from wfprof_pipeline.lib.usage.export import write_text

    if output:
        write_text(Path(output), text)
    else:
        sys.stdout.write(text if text.endswith("\n") else text + "\n")


def _check_output(output: str | None) -> None:
    """Say an unwritable path before reading the warehouse."""
    from pathlib import Path

    from wfprof_pipeline.lib.usage.export import ExportError

    if output and not Path(output).parent.resolve().is_dir():
        raise ExportError(f"cannot write {output}: directory {Path(output).parent} does not exist")


def handle_usage(args: argparse.Namespace) -> int:
    import sys

    from wfprof_pipeline.lib import warehouse
    from wfprof_pipeline.lib.cost_model.inputs import exists
    from wfprof_pipeline.lib.errors import WfprofError
    from wfprof_pipeline.lib.settings import Settings
    from wfprof_pipeline.lib.usage.export import CLOUDEVENTS_BATCH_TYPE, render
    from wfprof_pipeline.lib.usage.tables import EXECUTION_COSTS

    req = _request(args)
    _check_output(args.output)
    with warehouse.session(args.warehouse or Settings.from_env().warehouse, read_only=True) as con:
        if exists(con, EXECUTION_COSTS.name):
            costs = con.execute('select * from execution_costs where day between ? and ? '
                                'order by started_at, execution_id', [req.first, req.last]).pl()
        else:
            costs = EXECUTION_COSTS.frame()
        traced = 0
        if not costs.height and exists(con, "workflow_executions"):
            traced = con.execute("select count(*) from workflow_executions where started_at::date between ? and ?",
                                 [req.first, req.last]).fetchone()[0]
    if traced:
        raise WfprofError(f"{traced} execution(s) traced on {req.label()} are not priced yet: materialize "
                          "execution_costs for those days (`wfprof run`, or the asset in `wfprof dev`)")
    if not costs.height:
        print(f"no ingested traces on {req.label()}: an empty batch", file=sys.stderr)
    _emit(render(EXECUTION_COSTS.conform(costs), req.format), args.output)
    if args.output:
        kind = CLOUDEVENTS_BATCH_TYPE if req.format == "cloudevents" else "CSV"
        print(f"wrote {costs.height} event(s) for {req.label()} to {args.output} ({kind})", file=sys.stderr)
    return 0


def handle_prices(args: argparse.Namespace) -> int:
    import datetime as dt

    from wfprof_pipeline.lib import warehouse
    from wfprof_pipeline.lib.cost_model.inputs import read_table
    from wfprof_pipeline.lib.cost_model.policy import load_policy
    from wfprof_pipeline.lib.settings import Settings
    from wfprof_pipeline.lib.usage.export import price_book, price_book_json

    policy = load_policy()
    _check_output(args.output)
    with warehouse.session(args.warehouse or Settings.from_env().warehouse, read_only=True) as con:
        pricing = read_table(con, "step_pricing")
    _emit(price_book_json(price_book(pricing, policy, dt.datetime.now(dt.UTC))), args.output)
    return 0
