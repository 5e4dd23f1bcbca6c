"""`wfprof profile-workflow`: the seed's `profile:workflow` — run one stored workflow under V8 profiling.

    WORKFLOW_ID=wf_balance_watch wfprof profile-workflow --precise
    wfprof profile-workflow --workflow-id wf_payout_discord --input '{"recipient": "0x…", "amount": "0.01"}'

Honours the seed's variables: WORKFLOW_ID, EXECUTION_ID, DATABASE_URL, PRECISE_COVERAGE, PROFILE_DETAIL,
PROFILE_OUTPUT, PROFILE_TOP_N, WORKFLOW_INPUT (flags win over variables). Without an execution id a new
execution row is created, as the app does when a run starts.
"""

from __future__ import annotations

import argparse
import os


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("profile-workflow", help="run a stored workflow under V8 profiling (calls by category)")
    p.add_argument("--workflow-id", help="workflow to run (default: $WORKFLOW_ID)")
    p.add_argument("--execution-id", help="existing execution row to run as (default: $EXECUTION_ID, else a new one)")
    p.add_argument(
        "--precise", action="store_true", help="exact call counts (default: $PRECISE_COVERAGE, else sampling)"
    )
    p.add_argument("--input", metavar="JSON", help="trigger input (default: $WORKFLOW_INPUT, else {})")
    p.add_argument("--detail", action="store_true", help="per-segment numbers and top functions ($PROFILE_DETAIL)")
    p.add_argument("--top", type=int, help="top functions to report ($PROFILE_TOP_N, default 15)")
    p.add_argument("--output", help="also write the JSON document to this file ($PROFILE_OUTPUT)")
    p.add_argument("--json", action="store_true", help="print the runner's JSON document")
    p.add_argument(
        "--executor",
        choices=("platform", "wfprof"),
        help="platform: the checkout's own executor (registry [executor], or KeeperHub's executeWorkflow); "
        "wfprof: wfprof's runner (default: platform when the checkout has one)",
    )
    p.add_argument("--timeout", type=float, default=120.0, help="seconds before the run is killed (default 120)")
    p.set_defaults(handler=handle)


def _truthy(value: str | None) -> bool:
    return (value or "").strip().lower() in {"1", "true", "yes", "on"}


def handle(args: argparse.Namespace) -> int:
    import json
    from pathlib import Path

    from wfprof_pipeline.cli import CliError
    from wfprof_pipeline.lib import keeperhub
    from wfprof_pipeline.lib.registry import load_for_root
    from wfprof_pipeline.lib.settings import Settings
    from wfprof_pipeline.lib.workflows import platform, runner, schema
    from wfprof_pipeline.lib.workflows.profile import WorkflowRequest, profile_workflows

    workflow_id = args.workflow_id or os.environ.get("WORKFLOW_ID", "").strip()
    if not workflow_id:
        raise CliError("which workflow? give --workflow-id or set WORKFLOW_ID")
    execution_id = args.execution_id or os.environ.get("EXECUTION_ID", "").strip() or None
    precise = args.precise or _truthy(os.environ.get("PRECISE_COVERAGE"))
    detail = args.detail or _truthy(os.environ.get("PROFILE_DETAIL"))
    output = args.output or os.environ.get("PROFILE_OUTPUT", "").strip() or None
    try:
        top = args.top if args.top is not None else int(os.environ.get("PROFILE_TOP_N", "15") or 15)
    except ValueError:
        raise CliError("PROFILE_TOP_N must be an integer") from None
    raw_input = args.input if args.input is not None else os.environ.get("WORKFLOW_INPUT")
    workflow_input = None
    if raw_input:
        try:
            workflow_input = json.loads(raw_input)
        except json.JSONDecodeError as exc:
            raise CliError(f"workflow input is not valid JSON: {exc}") from None
        if not isinstance(workflow_input, dict):
            raise CliError("workflow input must be a JSON object")

    settings = Settings.from_env()
    url = keeperhub.database_url(settings)
    embedded = keeperhub.is_embedded_demo(url, settings)
    registry = load_for_root(settings.steps_root)
    executor = args.executor or platform.default_executor(registry)
    with keeperhub.KeeperHub(url) as kh:
        try:
            workflow = kh.workflow(workflow_id)
        except (schema.SchemaMismatch, runner.UnknownWorkflow) as exc:
            if embedded and (isinstance(exc, schema.SchemaMismatch) or "has no workflows" in str(exc)):
                raise CliError(f"the embedded demo database has no workflows yet: run `wfprof demo seed` first "
                               f"(or set DATABASE_URL to your KeeperHub database) — {exc}") from None
            raise
        if workflow_input is None and not execution_id:
            # Re-run what it really ran with: the input of its latest successful execution.
            workflow_input = kh.profile_targets([workflow_id], 1)[0][1]
    mode = "precise" if precise else "sampling"
    request = WorkflowRequest(workflow, input=workflow_input, execution_id=execution_id)
    (doc, _), = profile_workflows(url, registry, [request], executor=executor, mode=mode, node=settings.node,
                                  detail=detail, top_n=top, timeout_s=args.timeout).docs
    text = doc.model_dump_json(indent=2, exclude_none=True)
    if output:
        Path(output).write_text(text + "\n", encoding="utf-8")
    if args.json:
        print(text)
    else:
        _print_summary(doc, workflow.name, detail)
    return 0 if all(r.status == "success" for r in doc.runs) else 1


def _print_summary(doc, name: str, detail: bool) -> None:
    from wfprof_pipeline.lib.workflows.runner import CATEGORIES

    precise = doc.mode == "precise"
    for run in doc.runs:
        print(
            f"workflow {doc.workflowId} ({name}) — execution {run.executionId}: {run.status}"
            f" in {run.durationMs or 0:.0f} ms, {doc.mode} mode, executor: {doc.executor}"
        )
        if run.error:
            print(f"  error: {run.error}")
        if run.logRows is not None:
            print(f"  the platform wrote the execution row and {run.logRows} log row(s)")
        for blocked in run.egressBlocked:
            print(f"  egress refused: {blocked}")
        for note in doc.notes:
            print(f"  note: {note}")
        values = (run.calls if precise else run.selfMs).model_dump()
        total = sum(values.values()) or 1
        unit = "calls" if precise else "self ms"
        imported = run.importCalls.model_dump() if (precise and run.importCalls) else None
        if imported:  # the platform executor: its import apart, as a warm worker no longer pays it
            warm = {c: values[c] - imported[c] for c in CATEGORIES}
            warm_total = sum(warm.values()) or 1
            print(f"\n  {'category':<16} {unit:>12} {'share':>7} {'import':>10} {'after import':>12} {'share':>7}")
            for cat in CATEGORIES:
                print(f"  {cat:<16} {values[cat]:>12,.0f} {values[cat] / total:>7.1%} {imported[cat]:>10,.0f}"
                      f" {warm[cat]:>12,.0f} {warm[cat] / warm_total:>7.1%}")
        else:
            print(f"\n  {'category':<16} {unit:>12} {'share':>7}")
            for cat in CATEGORIES:
                print(f"  {cat:<16} {values[cat]:>12,.0f} {values[cat] / total:>7.1%}")
        print(f"  {'total':<16} {sum(values.values()):>12,.0f}")
        print(
            f"\n  {'node':<24} {'action type':<22} {'status':<8} {'ms':>8} {'req':>4} {unit:>10}"
            f" {'step fn':>9} {'db':>7}"
        )
        for n in run.nodes:
            cats = n.calls if precise else n.selfMs
            cv = cats.model_dump() if cats else dict.fromkeys(CATEGORIES, 0)
            print(
                f"  {n.nodeName[:24]:<24} {n.actionType[:22]:<22} {n.status:<8} {n.durationMs or 0:>8.1f} "
                f"{n.ioRequests:>4} {sum(cv.values()):>10,.0f} {cv['step_functions']:>9,.0f} {cv['database']:>7,.0f}"
            )
    if detail and doc.topFunctions:
        print("\n  top functions:")
        for f in doc.topFunctions:
            print(f"  {f.calls:>10,}  {f.category:<15} {f.name}  {f.file}")
