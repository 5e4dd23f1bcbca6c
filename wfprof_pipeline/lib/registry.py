"""The step registry: which steps exist, how to run each one, and what its I/O answers.

A TOML file (default `<corpus root>/registry.toml`, or `WFPROF_STEP_REGISTRY`) mapping a step id such as
`web3/check-balance` to its module, export, input, environment and canned responses, plus the shims and
aliases that KeeperHub-style imports (`server-only`, `@/lib/...`) need. The format is documented at the
top of the bundled `data/steps/registry.toml`.
"""

from __future__ import annotations

import json
import os
import tomllib
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from wfprof_pipeline.lib.errors import WfprofError

ENV_STEP_REGISTRY = "WFPROF_STEP_REGISTRY"
DEFAULT_REGISTRY_NAME = "registry.toml"

IoClass = Literal["none", "http", "chat", "chain_read", "chain_write"]
IO_CLASSES: tuple[str, ...] = ("none", "http", "chat", "chain_read", "chain_write")


class RegistryError(WfprofError, ValueError):
    """The registry file is missing, malformed, or names something that does not exist."""


class UnknownStepError(RegistryError):
    """A step id that is not in the registry (the message lists the known ids)."""


class CannedResponse(BaseModel):
    """One canned answer of the loopback stub: plain HTTP (method/path) or one JSON-RPC method."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    method: str | None = None
    path: str | None = None
    rpc_method: str | None = None
    params_contains: str | None = None
    status: int = Field(default=200, ge=100, le=599)
    headers: dict[str, str] = Field(default_factory=dict)
    json_body: Any = Field(default=None, alias="json")
    body: str | None = None
    result: Any = None
    error: Any = None

    @model_validator(mode="after")
    def _one_kind(self) -> CannedResponse:
        if self.rpc_method is None:
            if self.method is None and self.path is None:
                raise ValueError("a response needs `method`/`path` (HTTP) or `rpc_method` (JSON-RPC)")
            if self.result is not None or self.error is not None:
                raise ValueError("`result`/`error` are JSON-RPC replies: set `rpc_method` too")
            if self.json_body is not None and self.body is not None:
                raise ValueError("give either `json` or `body`, not both")
        elif self.result is None and self.error is None:
            raise ValueError(f"JSON-RPC response for {self.rpc_method} needs `result` or `error`")
        return self

    def for_harness(self) -> dict[str, Any]:
        """The stub's route format (see wfprof_pipeline/node/lib/stub-server.mjs)."""
        data = self.model_dump(by_alias=True, exclude_none=True)
        if not data.get("headers"):
            data.pop("headers", None)
        return data


class StepEntry(BaseModel):
    """How to run one step (a `[steps."<id>"]` table)."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    id: str
    module: str
    export: str
    action_type: str
    io_class: IoClass | None = None
    # The step executes JavaScript taken from the workflow (KeeperHub's code step). Such code runs on the
    # wfprof host while a workflow is profiled, so workflows read from a real database are profiled with
    # it only when that is allowed explicitly (see defs/workflows/profiles.py).
    runs_user_code: bool = False
    description: str = ""
    input: dict[str, Any] | None = None
    input_file: str | None = None
    env: dict[str, str] = Field(default_factory=dict)
    timeout_s: float | None = Field(default=None, gt=0)
    responses: list[CannedResponse] = Field(default_factory=list)

    @model_validator(mode="after")
    def _input_source(self) -> StepEntry:
        if self.input is not None and self.input_file is not None:
            raise ValueError("give either `input` or `input_file`, not both")
        return self

    @property
    def plugin(self) -> str:
        return self.id.split("/", 1)[0]


class StepRegistry(BaseModel):
    model_config = ConfigDict(extra="forbid")

    path: Path
    root: Path
    shims: dict[str, str] = Field(default_factory=dict)
    aliases: dict[str, str] = Field(default_factory=dict)
    steps: dict[str, StepEntry]

    @property
    def ids(self) -> list[str]:
        return sorted(self.steps)

    def get(self, step_id: str) -> StepEntry:
        try:
            return self.steps[step_id]
        except KeyError:
            raise UnknownStepError(
                f"unknown step id {step_id!r}; known ids: {', '.join(self.ids)}"
            ) from None

    def select(self, step_ids: list[str] | None) -> list[StepEntry]:
        """The named entries (all when None), unknown ids rejected up front."""
        if step_ids is None:
            return [self.steps[i] for i in self.ids]
        return [self.get(i) for i in step_ids]

    def module_path(self, entry: StepEntry) -> Path:
        return self.root / entry.module

    def input_for(self, entry: StepEntry) -> dict[str, Any]:
        """The step's input: inline, or read from `input_file` (JSON object) relative to the root."""
        if entry.input_file is None:
            return dict(entry.input or {})
        path = self.root / entry.input_file
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except OSError as exc:
            raise RegistryError(f"step {entry.id}: cannot read input_file {entry.input_file}: {exc.strerror}") from None
        except json.JSONDecodeError as exc:
            raise RegistryError(f"step {entry.id}: input_file {entry.input_file} is not JSON: {exc}") from None
        if not isinstance(data, dict):
            raise RegistryError(f"step {entry.id}: input_file {entry.input_file} must hold a JSON object")
        return data


def registry_path(root: Path | str, explicit: Path | str | None = None) -> Path:
    """Where the registry is: an explicit path, else `WFPROF_STEP_REGISTRY`, else `<root>/registry.toml`."""
    if explicit:
        return Path(explicit)
    env = os.environ.get(ENV_STEP_REGISTRY, "").strip()
    return Path(env) if env else Path(root) / DEFAULT_REGISTRY_NAME


def _format_validation(exc: ValidationError) -> str:
    parts = []
    for err in exc.errors()[:5]:
        loc = ".".join(str(p) for p in err["loc"] if p not in ("function-after[_one_kind()]",))
        parts.append(f"{loc}: {err['msg']}" if loc else err["msg"])
    more = f" (+{exc.error_count() - 5} more)" if exc.error_count() > 5 else ""
    return "; ".join(parts) + more


def load_registry(path: Path | str, root: Path | str | None = None) -> StepRegistry:
    """Parse and validate a registry. `root` (where module paths are relative to) defaults to its folder."""
    path = Path(path)
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise RegistryError(
            f"step registry {path} not found: create one (see data/steps/registry.toml) "
            f"or set {ENV_STEP_REGISTRY}"
        ) from None
    except OSError as exc:
        raise RegistryError(f"cannot read step registry {path}: {exc.strerror}") from None
    except tomllib.TOMLDecodeError as exc:
        raise RegistryError(f"step registry {path} is not valid TOML: {exc}") from None
    unknown = set(raw) - {"shims", "aliases", "steps"}
    if unknown:
        raise RegistryError(f"step registry {path}: unknown top-level keys {sorted(unknown)}")
    steps_raw = raw.get("steps") or {}
    if not isinstance(steps_raw, dict) or not steps_raw:
        raise RegistryError(f"step registry {path} defines no steps (add [steps.\"<plugin>/<step>\"] tables)")
    steps: dict[str, StepEntry] = {}
    for step_id, table in steps_raw.items():
        if not isinstance(table, dict):
            raise RegistryError(f"step registry {path}: steps.{step_id} must be a table")
        try:
            steps[step_id] = StepEntry.model_validate({**table, "id": step_id})
        except ValidationError as exc:
            raise RegistryError(f"step registry {path}: step {step_id!r}: {_format_validation(exc)}") from None
    try:
        return StepRegistry(
            path=path.resolve(),
            root=Path(root).resolve() if root else path.resolve().parent,
            shims=raw.get("shims") or {},
            aliases=raw.get("aliases") or {},
            steps=steps,
        )
    except ValidationError as exc:
        raise RegistryError(f"step registry {path}: {_format_validation(exc)}") from None


def load_for_root(root: Path | str, explicit: Path | str | None = None) -> StepRegistry:
    """The registry of a corpus root. Module paths are relative to the root wherever the registry lives
    (a registry kept outside a KeeperHub checkout names the checkout's files, as step_sources does)."""
    return load_registry(registry_path(root, explicit), root=root)
