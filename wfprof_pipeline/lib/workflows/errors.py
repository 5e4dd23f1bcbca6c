"""Why a stored workflow could not be run."""

from __future__ import annotations

from wfprof_pipeline.lib.errors import WfprofError


class WorkflowRunError(WfprofError, RuntimeError):
    """The workflow could not be run: unknown id, unrunnable graph, unknown action type, runner failure."""


class UnknownWorkflow(WorkflowRunError):
    pass


class UnknownActionType(WorkflowRunError):
    pass
