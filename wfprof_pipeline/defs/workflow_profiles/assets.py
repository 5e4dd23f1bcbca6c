"""`workflow_profiles` + `workflow_profile_steps`: stored workflows executed under V8 profiling.

Each workflow runs once in a fresh Node process, through the checkout's own executor when it has one
(config `executor`, lib/workflows/platform.py) or wfprof's runner: a real execution and its log rows land
in the KeeperHub database, and its calls are split by category (database, step functions, external API,
executor, Node internals, other), per execution and per node. Every row names the executor.
"""

from typing import Literal

import dagster as dg
import polars as pl
from pydantic import Field

from wfprof_pipeline.defs.metadata import table_metadata
from wfprof_pipeline.defs.resources import KeeperHubDatabase, NodeResource, StepCorpusResource, WarehouseResource
from wfprof_pipeline.lib import keeperhub
from wfprof_pipeline.lib.registry import load_for_root
from wfprof_pipeline.lib.settings import Settings
from wfprof_pipeline.lib.workflows import platform, profiles
from wfprof_pipeline.lib.workflows.profile import WorkflowRequest, profile_workflows


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
    group_name="workflow_profiles",
    pool="duckdb",
    retry_policy=dg.RetryPolicy(max_retries=2, delay=5, backoff=dg.Backoff.EXPONENTIAL),
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
    kh = keeperhub_db.client()
    url = kh.url
    registry = load_for_root(step_corpus.resolved_root())
    executable = node.resolved_executable()
    allowed = Settings.from_env().run_user_code
    run_user_code = allowed if allowed is not None else keeperhub.is_embedded_demo(url)
    executor = platform.default_executor(registry) if config.executor == "auto" else config.executor
    context.log.info(f"workflows run through the {executor} executor")
    with kh:
        targets = kh.profile_targets(config.workflow_ids, config.max_workflows)
        requests = [WorkflowRequest(kh.workflow(wid), input=trigger) for wid, trigger in targets]
    outcome = profile_workflows(url, registry, requests, executor=executor, mode=config.mode, node=executable,
                                parallel=config.parallel, run_user_code=run_user_code, errors="collect",
                                on_warning=context.log.warning)
    docs, failures, skipped_user_code = outcome.docs, outcome.failures, outcome.skipped_user_code
    if targets and not docs and failures:  # before any write: the previous profiles stay in the warehouse
        # Not retried by the policy (that is for the database going away): the same workflows would fail again.
        raise dg.Failure(f"no workflow could be profiled: {'; '.join(failures)}", allow_retries=False)
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
