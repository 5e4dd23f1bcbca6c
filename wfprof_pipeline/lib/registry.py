"""The step registry: which steps exist, how to run each one, and what its I/O answers.

It starts from what the checkout declares (lib/discovery: every step file, its export and action type from
the plugin manifest, tsconfig path aliases, `server-only` as an empty module). A TOML file (default
`<corpus root>/registry.toml`, or `WFPROF_STEP_REGISTRY`) adds to and overrides that: a step's input,
environment and canned responses, shims for platform modules, steps outside the corpus globs. The format
is documented at the top of the bundled `data/steps/registry.toml`; `wfprof registry init` writes a starter.
"""

from __future__ import annotations

import ipaddress
import json
import tomllib
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from wfprof_pipeline.lib.errors import WfprofError
from wfprof_pipeline.lib.settings import ENV_STEP_REGISTRY, Settings

DEFAULT_REGISTRY_NAME = "registry.toml"

IoClass = Literal["none", "http", "chat", "chain_read", "chain_write"]
IO_CLASSES: tuple[str, ...] = ("none", "http", "chat", "chain_read", "chain_write")
# The stub's own control API: no canned response may claim it.
STUB_CONTROL_PREFIX = "/__wfprof/"
# `import "server-only"` throws outside a React server bundle; an empty module stands in for it.
EMPTY_MODULE = Path(__file__).resolve().parents[1] / "node" / "shims" / "empty.mjs"
BUILTIN_SHIMS = {"server-only": str(EMPTY_MODULE)}
MAX_TIMEOUT_S = 3600.0


class RegistryError(WfprofError, ValueError):
    """The registry file is missing, malformed, or names something that does not exist."""


class NoStepsError(RegistryError):
    """Neither discovery nor a registry file gave a single step."""


class UnknownStepError(RegistryError):
    """A step id that is not in the registry (the message lists the known ids)."""


class CannedResponse(BaseModel):
    """One canned answer of the loopback stub: plain HTTP (method/path) or one JSON-RPC method."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    method: str | None = None
    path: str | None = None
    # Requests a step makes to this host (a hard-coded `https://api.vendor.com/...`) are routed to the
    # loopback stub, over plain HTTP; `url = "https://host/prefix/*"` sets host and path at once.
    host: str | None = None
    url: str | None = None
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
        if self.url is not None:
            parts = urlsplit(self.url)
            if parts.scheme not in ("http", "https") or not parts.hostname:
                raise ValueError(f"url {self.url!r} must be http(s)://host/path")
            if self.host is not None and self.host.lower() != parts.hostname:
                raise ValueError("give either `url` or `host`, not both")
            self.host = parts.hostname if parts.port is None else f"{parts.hostname}:{parts.port}"
            if self.path is None and parts.path not in ("", "/", "/*"):
                self.path = parts.path
            self.url = None
        if self.host is not None:
            self.host = _check_host(self.host)
        if self.path is not None and self.path.startswith(STUB_CONTROL_PREFIX.rstrip("/")):
            raise ValueError(f"path {self.path!r} is the stub's own control path ({STUB_CONTROL_PREFIX}…)")
        if self.rpc_method is None:
            if self.method is None and self.path is None and self.host is None:
                raise ValueError("a response needs `method`/`path`/`host` (HTTP) or `rpc_method` (JSON-RPC)")
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
        data.pop("url", None)
        if not data.get("headers"):
            data.pop("headers", None)
        return data



def _check_host(host: str) -> str:
    """A routed host: a real name, never loopback (that is the stub itself, and its control API)."""
    host = host.strip().lower().rstrip(".")
    name = host.rsplit(":", 1)[0] if host.count(":") == 1 else host
    if not name or "/" in host or " " in host:
        raise ValueError(f"host {host!r} is not a host name (give `url` for a URL)")
    try:
        loopback = ipaddress.ip_address(name.strip("[]")).is_loopback or name.strip("[]") in ("0.0.0.0", "::")
    except ValueError:
        loopback = name == "localhost" or name.endswith(".localhost")
    if loopback:
        raise ValueError(f"host {host!r} is loopback, where the stub and its control API live; canned responses "
                         "for the stub itself need no host")
    return host


class StepEntry(BaseModel):
    """How to run one step (a `[steps."<id>"]` table)."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    id: str
    module: str
    export: str | None = None  # None: discovery found no single `…Step` export (see `problem`)
    action_type: str
    io_class: IoClass | None = None
    # The step executes JavaScript taken from the workflow (KeeperHub's code step). Such code runs on the
    # wfprof host while a workflow is profiled, so workflows read from a real database are profiled with
    # it only when that is allowed explicitly (see defs/workflow_profiles/assets.py).
    runs_user_code: bool = False
    description: str = ""
    input: dict[str, Any] | None = None
    input_file: str | None = None
    env: dict[str, str] = Field(default_factory=dict)
    timeout_s: float | None = Field(default=None, gt=0, le=MAX_TIMEOUT_S)
    warm_runs: int | None = Field(default=None, ge=0, le=100)  # None: the run's default (0 = no warm phase)
    responses: list[CannedResponse] = Field(default_factory=list)
    # Where the entry came from, and why it cannot be profiled (no export found, module missing).
    origin: Literal["discovered", "registry", "both"] = "registry"
    problem: str | None = None
    helpers: list[str] = Field(default_factory=list)  # `-core` helper files the step imports

    @model_validator(mode="after")
    def _input_source(self) -> StepEntry:
        if self.input is not None and self.input_file is not None:
            raise ValueError("give either `input` or `input_file`, not both")
        if self.export is None and self.problem is None:
            raise ValueError("`export` is required (the step function to call)")
        return self

    @property
    def plugin(self) -> str:
        return self.id.split("/", 1)[0]

    @property
    def executes(self) -> bool:
        """A step in the registry file is executed (with `{}` if it gives no input); a step only discovered
        is profiled at import: nothing says what to call it with."""
        return self.origin != "discovered" or self.input is not None or self.input_file is not None

    @property
    def routed_hosts(self) -> list[str]:
        return sorted({r.host for r in self.responses if r.host})


class ModuleExport(BaseModel):
    """A function of the checkout: file (relative to the root) and export name."""

    model_config = ConfigDict(extra="forbid")

    module: str
    export: str


class ExecutorConfig(BaseModel):
    """The platform's own workflow executor (`[executor]`), for `profile-workflow --executor platform`."""

    model_config = ConfigDict(extra="forbid")

    module: str
    export: str
    # Called once per step (KeeperHub: `withStepLogging(input, logic)`); wrapped to take coverage per node.
    step_boundary: ModuleExport | None = None
    # Called as fn(nodes, userId) before the executor; `{valid: false, invalidIds}` fails the run.
    check_integrations: ModuleExport | None = None
    env: dict[str, str] = Field(default_factory=dict)  # set before the executor is imported
    # Unlike step profiling, the platform's real modules run; only these (and `server-only`) are shimmed.
    shims: dict[str, str] = Field(default_factory=dict)
    # Checkout folders whose code is the platform's database layer (category `database`).
    database_paths: list[str] = Field(default_factory=lambda: ["lib/db/"])
    origin: Literal["discovered", "registry"] = "registry"


class StepRegistry(BaseModel):
    model_config = ConfigDict(extra="forbid")

    path: Path | None  # None: no registry file, everything discovered
    root: Path
    shims: dict[str, str] = Field(default_factory=dict)
    aliases: dict[str, str | list[str]] = Field(default_factory=dict)
    steps: dict[str, StepEntry]
    executor: ExecutorConfig | None = None
    warnings: list[str] = Field(default_factory=list)
    # The shared platform modules every step imports, when the registry names them (else found from imports).
    platform_modules: list[str] | None = None

    @property
    def ids(self) -> list[str]:
        return sorted(self.steps)

    def resolve_id(self, step_id: str) -> str:
        """A step id, or an action type that names exactly one step (`slack/send-message`)."""
        if step_id in self.steps:
            return step_id
        by_type = [e.id for e in self.steps.values() if e.action_type == step_id]
        if len(by_type) == 1:
            return by_type[0]
        hint = f" (action type of {', '.join(by_type)}: give one of those ids)" if by_type else ""
        raise UnknownStepError(f"unknown step id {step_id!r}{hint}; known ids: {', '.join(self.ids)}")

    def get(self, step_id: str) -> StepEntry:
        return self.steps[self.resolve_id(step_id)]

    def select(self, step_ids: list[str] | None) -> list[StepEntry]:
        """The named entries (all when None), unknown ids rejected up front."""
        if step_ids is None:
            return [self.steps[i] for i in self.ids]
        return [self.get(i) for i in step_ids]

    def profilable(self, entries: list[StepEntry]) -> list[StepEntry]:
        return [e for e in entries if e.problem is None]

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


def registry_path(root: Path | str, explicit: Path | str | None = None) -> tuple[Path, bool]:
    """Where the registry is, and whether the user named it (an explicit path or `WFPROF_STEP_REGISTRY`),
    in which case it must exist; `<root>/registry.toml` is optional."""
    if explicit:
        return Path(explicit), True
    named = Settings.from_env().step_registry
    return (named, True) if named else (Path(root) / DEFAULT_REGISTRY_NAME, False)


def _format_validation(exc: ValidationError) -> str:
    parts = []
    for err in exc.errors()[:5]:
        loc = ".".join(str(p) for p in err["loc"] if not str(p).startswith("function-after"))
        msg = err["msg"].removeprefix("Value error, ")
        parts.append(f"{loc}: {msg}" if loc else msg)
    more = f" (+{exc.error_count() - 5} more)" if exc.error_count() > 5 else ""
    return "; ".join(parts) + more


def read_registry_file(path: Path) -> dict[str, Any]:
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise RegistryError(
            f"step registry {path} not found: create one (`wfprof registry init`) or unset {ENV_STEP_REGISTRY}"
        ) from None
    except UnicodeDecodeError as exc:
        raise RegistryError(f"step registry {path} is not UTF-8 text (byte {exc.start}): save it as UTF-8") from None
    except OSError as exc:
        raise RegistryError(f"cannot read step registry {path}: {exc.strerror}") from None
    except tomllib.TOMLDecodeError as exc:
        raise RegistryError(f"step registry {path} is not valid TOML: {exc}") from None
    unknown = set(raw) - {"shims", "aliases", "steps", "platform", "executor"}
    if unknown:
        raise RegistryError(f"step registry {path}: unknown top-level keys {sorted(unknown)}")
    steps_raw = raw.get("steps") or {}
    if not isinstance(steps_raw, dict):
        raise RegistryError(f"step registry {path}: `steps` must be a table of [steps.\"<plugin>/<step>\"]")
    for step_id, table in steps_raw.items():
        if not isinstance(table, dict):
            raise RegistryError(f"step registry {path}: steps.{step_id} must be a table")
    for key in ("shims", "aliases", "platform", "executor"):
        if not isinstance(raw.get(key) or {}, dict):
            raise RegistryError(f"step registry {path}: [{key}] must be a table")
    modules = (raw.get("platform") or {}).get("modules")
    if set(raw.get("platform") or {}) - {"modules"} or not (
            modules is None or (isinstance(modules, list) and all(isinstance(m, str) and m for m in modules))):
        raise RegistryError(f"step registry {path}: [platform] takes only `modules`, a list of import specifiers")
    return raw


def _discovered_entries(root: Path) -> tuple[dict[str, dict[str, Any]], dict[str, list[str]], list[str]]:
    from wfprof_pipeline.lib.discovery.steps import discover_steps

    found = discover_steps(root)
    entries: dict[str, dict[str, Any]] = {}
    for d in found.steps:
        entries[d.step_id] = {
            "id": d.step_id, "module": d.file.rel, "export": d.export, "action_type": d.action_type,
            "problem": d.problem, "origin": "discovered", "helpers": list(d.helpers),
        }
    return entries, found.aliases.paths, list(found.warnings)


def build_registry(root: Path | str, path: Path | None = None, *, discover: bool = True) -> StepRegistry:
    """Discovered steps, overlaid with the registry file at `path` (if any). Module paths are relative to
    the root wherever the registry lives (a registry kept outside a checkout names the checkout's files)."""
    root = Path(root).resolve()
    entries, aliases, warnings = _discovered_entries(root) if discover else ({}, {}, [])
    raw = read_registry_file(path) if path is not None else {}
    by_module = {e["module"]: sid for sid, e in entries.items()}
    steps: dict[str, StepEntry] = {}
    overlaid: set[str] = set()
    raw_steps = raw.get("steps") or {}
    # Entries keyed by a discovered id claim that step first, whatever their order in the file; the others
    # overlay the step their module or (unique) action type names, unless it is claimed: then they are
    # variants of it (the same module run another way).
    claimed = {sid for sid in raw_steps if sid in entries}
    for step_id, table in sorted(raw_steps.items(), key=lambda kv: kv[0] not in claimed):
        target = step_id if step_id in entries else by_module.get(table.get("module", ""))
        if target is None:
            typed = [sid for sid, e in entries.items() if e["action_type"] == step_id]
            target = typed[0] if len(typed) == 1 and "module" not in table else None
        if target is not None and target != step_id and target in claimed:
            target = None
        if target is not None and target not in overlaid:
            base = {k: v for k, v in entries[target].items() if k not in ("id", "problem")}
            if "export" in table:
                base["problem"] = None
            elif entries[target]["problem"]:
                base["problem"] = entries[target]["problem"]
            merged = {**base, **table, "id": step_id, "origin": "both"}
            overlaid.add(target)
        else:
            merged = {**table, "id": step_id, "origin": "registry"}
            for key in ("module", "export", "action_type"):
                if key not in merged:
                    raise RegistryError(f"step registry {path}: step {step_id!r}: {key}: Field required (no "
                                        "discovered step file has this id or module)")
            if not (root / str(merged["module"])).is_file():
                merged["problem"] = f"module {merged['module']} does not exist under the steps root"
                warnings.append(f"registry entry {step_id!r}: {merged['problem']}")
        try:
            steps[step_id] = StepEntry.model_validate(merged)
        except ValidationError as exc:
            where = f"step registry {path}" if path else "discovered steps"
            raise RegistryError(f"{where}: step {step_id!r}: {_format_validation(exc)}") from None
    for sid, e in entries.items():
        if sid not in overlaid and sid not in steps:
            steps[sid] = StepEntry.model_validate(e)
    if not steps:
        registry = f"step registry {path} defines no steps" if path else \
            f"no step registry at {root / DEFAULT_REGISTRY_NAME} (or {ENV_STEP_REGISTRY})"
        raise NoStepsError(f"no step files under {root} (plugins/*/steps/*, keeperhub/plugins/*/steps/*) and "
                            f"{registry}: point WFPROF_STEPS_ROOT at a checkout or write a registry")
    merged_aliases: dict[str, str | list[str]] = {**aliases, **(raw.get("aliases") or {})}
    executor = _executor_config(root, raw.get("executor"), path, discover)
    try:
        return StepRegistry(
            path=path.resolve() if path else None,
            root=root,
            shims={**BUILTIN_SHIMS, **(raw.get("shims") or {})},
            aliases=merged_aliases,
            steps=steps,
            executor=executor,
            warnings=warnings,
            platform_modules=(raw.get("platform") or {}).get("modules"),
        )
    except ValidationError as exc:
        raise RegistryError(f"step registry {path}: {_format_validation(exc)}") from None


def _executor_config(
    root: Path, table: dict[str, Any] | None, path: Path | None, discover: bool
) -> ExecutorConfig | None:
    """`[executor]` from the registry file, completed by what the checkout has (KeeperHub's layout)."""
    from wfprof_pipeline.lib.discovery.executor import discover_executor

    found = discover_executor(root) if discover else {}
    if not table and not found:
        return None
    merged = {**found, **(table or {}), "origin": "registry" if table else "discovered"}
    try:
        return ExecutorConfig.model_validate(merged)
    except ValidationError as exc:
        raise RegistryError(f"step registry {path}: executor: {_format_validation(exc)}") from None


def load_registry(path: Path | str, root: Path | str | None = None) -> StepRegistry:
    """A registry file alone (no discovery); `root` defaults to the file's folder."""
    path = Path(path)
    return build_registry(Path(root) if root else path.resolve().parent, path, discover=False)


def load_for_root(root: Path | str, explicit: Path | str | None = None) -> StepRegistry:
    """The registry of a corpus root: discovery plus the registry file, when there is one."""
    path, named = registry_path(root, explicit)
    if not path.is_file() and not named:
        return build_registry(root, None)
    return build_registry(root, path)
