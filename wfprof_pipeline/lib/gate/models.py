"""The snapshot document: every deterministic measure of a tree, versioned (`schema_version`).

Only numbers that are identical run to run go in: own + package calls (V8 precise coverage), requests
served by the stub, tiers and units computed from those, static complexity, fuel. Node-internal call
counts and timings vary between runs and are left out on purpose. Two snapshots of an unchanged tree
are byte-identical apart from `created_at` and `tool_version` (`dump` sorts keys; lists are in a fixed
order).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from wfprof_pipeline.lib.errors import WfprofError

DOCUMENT_KIND = "wfprof-snapshot"
SCHEMA_VERSION = 1
SECTIONS: tuple[str, ...] = ("static", "steps", "fuel", "user_code")


class SnapshotError(WfprofError, ValueError):
    """A snapshot file that cannot be read, is not a wfprof snapshot, or has another schema version."""


class _Doc(BaseModel):
    model_config = ConfigDict(extra="forbid")


class PhaseCalls(_Doc):
    own: int = Field(description="calls in the step's own code (and platform code behind @/ aliases)")
    packages: int = Field(description="calls in npm packages")
    by_package: dict[str, int] = Field(default_factory=dict, description="package -> calls")


class IoCount(_Doc):
    phase: str
    host: str
    method: str
    requests: int
    rpc_methods: dict[str, int] = Field(default_factory=dict, description="JSON-RPC method -> calls")


class StepSnapshot(_Doc):
    # ok; import_only (discovered, no input: the import is compared); not_profiled (no way to import it) and
    # failed are reported as failures of that side
    status: Literal["ok", "import_only", "not_profiled", "failed"]
    error: str | None = None
    module: str
    action_type: str | None = None
    source_sha256: str | None = Field(default=None, description="the step module file")
    entry_sha256: str = Field(description="the step's registry entry (input, env, responses)")
    lockfile_sha256: str | None = None
    phases: dict[str, PhaseCalls] = Field(default_factory=dict)
    calls: int | None = Field(default=None, description="own + packages, import + execute")
    io_operations: int | None = Field(default=None, description="requests per execution (execute phase)")
    io_requests: list[IoCount] = Field(default_factory=list)
    tier: str | None = None
    io_class: str | None = None
    units: float | None = None
    pricing_status: str | None = None


class FunctionComplexity(_Doc):
    name: str
    line: int
    complexity: int


class FileSnapshot(_Doc):
    plugin: str
    step: str
    cyclomatic_complexity: int
    max_function_complexity: int
    functions: list[FunctionComplexity] = Field(default_factory=list)
    parse_error: str | None = None


class FuelWorkload(_Doc):
    category: str
    fuel: int = Field(description="fuel at the largest size (what the gate compares)")
    by_iterations: dict[str, int] = Field(default_factory=dict)
    fuel_per_op: float | None = None
    fixed_fuel: float | None = None
    success: bool


class FuelSection(_Doc):
    engine: dict[str, str]
    empty_fuel: int
    workloads: dict[str, FuelWorkload]


class UserCodeNode(_Doc):
    workflow_id: str
    node_id: str
    fuel: int | None
    success: bool
    error_kind: str | None = None


class TreeInfo(_Doc):
    source_sha256: str = Field(description="digest of every tracked file (steps, registry, lockfile, lib, shims)")
    files: dict[str, str] = Field(default_factory=dict, description="relative path -> sha256")
    registry_sha256: str | None = None
    lockfile: str | None = Field(default=None, description="lockfile name, relative to the corpus root")
    lockfile_sha256: str | None = None
    dependencies: dict[str, str] = Field(default_factory=dict, description="locked package -> version")


class PricingInfo(_Doc):
    policy_sha256: str
    policy_basis: str = Field(description="the policy's own tier basis (what `wfprof report` uses)")
    tier_basis: str = Field(description="the basis the snapshot tiers on: always deterministic")


class Snapshot(_Doc):
    kind: Literal["wfprof-snapshot"] = DOCUMENT_KIND
    schema_version: int = SCHEMA_VERSION
    tool_version: str
    created_at: str
    sections: list[str]
    tree: TreeInfo
    pricing: PricingInfo | None = None
    steps: dict[str, StepSnapshot] = Field(default_factory=dict)
    files: dict[str, FileSnapshot] = Field(default_factory=dict)
    fuel: FuelSection | None = None
    user_code_fuel: dict[str, UserCodeNode] | None = None


def dump(snapshot: Snapshot) -> str:
    """The canonical text: sorted keys, two-space indent, one trailing newline."""
    return json.dumps(snapshot.model_dump(mode="json"), sort_keys=True, indent=2, ensure_ascii=False) + "\n"


def parse(text: str, *, source: str = "snapshot") -> Snapshot:
    try:
        data: Any = json.loads(text)
    except ValueError as exc:
        raise SnapshotError(f"{source} is not JSON ({exc}); a baseline is the output of `wfprof snapshot`") from None
    if not isinstance(data, dict) or data.get("kind") != DOCUMENT_KIND:
        raise SnapshotError(f"{source} is JSON but not a wfprof snapshot (no \"kind\": \"{DOCUMENT_KIND}\"); "
                            "a baseline is the output of `wfprof snapshot`")
    version = data.get("schema_version")
    if version != SCHEMA_VERSION:
        raise SnapshotError(
            f"{source} has snapshot schema version {version!r}; this wfprof reads version {SCHEMA_VERSION}. "
            "Re-create the baseline with this wfprof (`wfprof snapshot`), or use --base-ref"
        )
    try:
        return Snapshot.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise SnapshotError(f"{source} is not a valid wfprof snapshot (version {SCHEMA_VERSION}): "
                            f"{where}: {first['msg']}") from None


def load(path: Path | str) -> Snapshot:
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = getattr(exc, "strerror", None) or str(exc)
        raise SnapshotError(f"cannot read snapshot {path}: {reason}") from None
    return parse(text, source=str(path))
