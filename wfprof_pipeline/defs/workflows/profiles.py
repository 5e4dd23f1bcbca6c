"""`workflow_profiles` + `workflow_profile_steps`: stored workflows executed under V8 profiling.

Each workflow runs once in a fresh Node process, through the checkout's own executor when it has one
(config `executor`, lib/workflows/platform.py) or wfprof's runner: a real execution and its log rows land
in the KeeperHub database, and its calls are split by category (database, step functions, external API,
executor, Node internals, other), per execution and per node. Every row names the executor.
"""

import os
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Literal

import dagster as dg
import polars as pl
from pydantic import Field

from wfprof_pipeline.defs.metadata import table_metadata
from wfprof_pipeline.defs.resources import KeeperHubDatabase, NodeResource, StepCorpusResource, WarehouseResource
from wfprof_pipeline.defs.workflows.run_support import is_embedded_demo
from wfprof_pipeline.lib import postgres
from wfprof_pipeline.lib.registry import load_for_root
from wfprof_pipeline.lib.settings import Settings
from wfprof_pipeline.lib.workflows import platform, profiles, runner


class WorkflowProfileConfig(dg.Config):
    mode: Literal["precise", "sampling"] = "precise"
    # empty: the most-executed workflows
    workflow_ids: list[str] = Field(default=[], max_length=100)
    max_workflows: int = Field(default=8, ge=1, le=100)
    # Node processes at once (call counts are exact either way; timings are not)
    parallel: int = Field(default=2, ge=1, le=32)
    # Whether workflows whose steps run user code (registry `runs_user_code`) may execute it on this host is
    # not run config (anyone who reaches the UI could set it): $WFPROF_RUN_USER_CODE, else only the demo DB.
    # platform: the checkout's own executor (registry [executor]); wfprof: wfprof's runner.
    # auto: platform when the checkout has one.
    executor: Literal["auto", "platform", "wfprof"] = "auto"


@dg.multi_asset(
    group_name="workflows",
    pool="duckdb",
    specs=[
        dg.AssetSpec(
            "workflow_profiles",
            kinds={"duckdb", "nodejs"},
            description="Per profiled execution and category (database, step_functions, external_api, "
            "executor, node_internals, other): calls and share (precise) or self time (sampling).",
            metadata=table_metadata(profiles.WORKFLOW_PROFILES),
        ),
        dg.AssetSpec(
            "workflow_profile_steps",
            kinds={"duckdb", "nodejs"},
            description="Per profiled execution and node: status, duration, requests, calls by category.",
            metadata=table_metadata(profiles.WORKFLOW_PROFILE_STEPS),
        ),
    ],
)
def workflow_profiles(
    context: dg.AssetExecutionContext,
    config: WorkflowProfileConfig,
    keeperhub_db: KeeperHubDatabase,
    step_corpus: StepCorpusResource,
    node: NodeResource,
    warehouse: WarehouseResource,
):
    url = keeperhub_db.resolved_url()
    registry = load_for_root(step_corpus.resolved_root())
    executable = node.resolved_executable()
    docs = []
    failures = []
    skipped_user_code: list[str] = []
    allowed = Settings.from_env().run_user_code
    run_user_code = allowed if allowed is not None else is_embedded_demo(url)
    executor = platform.default_executor(registry) if config.executor == "auto" else config.executor
    context.log.info(f"workflows run through the {executor} executor")
    with postgres.connect(url, retries=2) as conn:
        targets = profiles.targets(conn, config.workflow_ids, config.max_workflows)
        stored = {wid: runner.load_workflow(conn, wid) for wid, _ in targets}
    with tempfile.TemporaryDirectory(prefix="wfprof-wf-") as build:
        plannable = {}
        for wid, _ in targets:
            try:
                if executor == "platform":  # the platform's executor decides what it can run
                    steps = platform.steps_used(stored[wid], registry)
                else:
                    steps = runner.plan_workflow(stored[wid], registry)[1]
            except runner.WorkflowRunError as exc:
                failures.append(f"{wid}: {exc}")
                context.log.warning(f"workflow {wid} cannot be profiled: {exc}")
                continue
            if not run_user_code and any(e.runs_user_code for e in steps.values()):
                skipped_user_code.append(wid)
                context.log.warning(
                    f"workflow {wid} not profiled: it runs user code (node:vm is no sandbox), which would execute "
                    "on this host; set WFPROF_RUN_USER_CODE=true to allow it"
                )
                continue
            plannable[wid] = steps
        entries = {e.id: e for steps in plannable.values() for e in steps.values()}
        if executor == "wfprof":
            precompiled = runner.compile_for(registry, list(entries.values()), Path(build), executable)  # once

        def profile_one(target: tuple[str, dict]) -> tuple[str, runner.RunnerDocument | str]:
            wid, trigger_input = target
            try:
                if executor == "platform":
                    own = Path(build) / f"platform-{len(wid)}-{abs(hash(wid))}"
                    own.mkdir()
                    return wid, platform.run(stored[wid], registry, own, url, mode=config.mode,
                                             workflow_input=trigger_input, node=executable)
                job = runner.build_job(stored[wid], registry, Path(build), executable, precompiled=precompiled)
                return wid, runner.run(job, url, mode=config.mode, workflow_input=trigger_input, node=executable)
            except runner.WorkflowRunError as exc:
                return wid, str(exc)

        # Exact call counts do not depend on what else runs, so profiles run side by side (≤ cores).
        with ThreadPoolExecutor(max_workers=max(1, min(config.parallel, os.cpu_count() or 1))) as pool:
            outcomes = list(pool.map(profile_one, [t for t in targets if t[0] in plannable]))
        for wid, outcome in outcomes:
            if isinstance(outcome, str):
                failures.append(f"{wid}: {outcome}")
                context.log.warning(f"workflow {wid} could not be profiled: {outcome}")
            else:
                docs.append((outcome, stored[wid].name))
    if targets and not docs and failures:  # before any write: the previous profiles stay in the warehouse
        raise dg.Failure(f"no workflow could be profiled: {'; '.join(failures)}")
    profile_frame, step_frame = profiles.frames(docs)
    n_profiles = warehouse.replace_table(profiles.WORKFLOW_PROFILES, profile_frame)
    n_steps = warehouse.replace_table(profiles.WORKFLOW_PROFILE_STEPS, step_frame)
    totals = profile_frame.group_by("category").agg(pl.col("calls").sum()).sort("calls", descending=True)
    all_calls = int(totals["calls"].sum() or 0)
    yield dg.MaterializeResult(
        asset_key="workflow_profiles",
        metadata={
            "dagster/row_count": n_profiles,
            "executions": len({r.executionId for d, _ in docs for r in d.runs}),
            "failed_workflows": len(failures),
            "executor": executor,
            "skipped_user_code_workflows": ", ".join(skipped_user_code) or "none",
            **{f"share_{c}": round(v / all_calls, 4) for c, v in totals.iter_rows() if all_calls and v is not None},
        },
    )
    yield dg.MaterializeResult(asset_key="workflow_profile_steps", metadata={"dagster/row_count": n_steps})
