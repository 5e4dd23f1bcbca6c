"""The pricing policy: units per tier, I/O multiplier per I/O class, tier thresholds.

`step_cost = base_units(tier) + io_multiplier(io_class) × io_operations` — the seed's formula. The
defaults reproduce the seed's published table; a TOML/JSON file (`WFPROF_PRICING_POLICY`) overrides them.
Validation errors name the offending field (e.g. `io_multipliers.chain_writ: Extra inputs are not
permitted`), because the models forbid unknown keys and negative values.
"""

from __future__ import annotations

import hashlib
import json
import tomllib
from pathlib import Path
from typing import Annotated, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from wfprof_pipeline.lib.errors import WfprofError
from wfprof_pipeline.lib.gate.limits import GateTable
from wfprof_pipeline.lib.settings import Settings

Tier = Literal["light", "medium", "heavy"]
TIERS: tuple[Tier, ...] = get_args(Tier)
IoClass = Literal["none", "http", "chat", "chain_read", "chain_write"]
IO_CLASSES: tuple[IoClass, ...] = get_args(IoClass)
# What a step is tiered on (see tiers.py): cost_calls = what one execution costs in production (warm +
# the cold-start share); all = import + the first execution, every category (the seed's way of counting);
# cold = a cold start without the shared platform import; own_packages = import + first execution, own code
# and packages only (bit-identical run to run).
CallBasis = Literal["cost_calls", "all", "cold", "own_packages", "own_packages_node_execute"]
CALL_BASES: tuple[str, ...] = get_args(CallBasis)


class PolicyError(WfprofError, ValueError):
    """A pricing policy file that cannot be read or does not validate (the message names the field)."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class TierUnits(_Strict):
    """Base compute units charged per execution of a step in each tier."""

    light: float = Field(default=1, ge=0)
    medium: float = Field(default=3, ge=0)
    heavy: float = Field(default=5, ge=0)

    def of(self, tier: Tier) -> float:
        return float(getattr(self, tier))


class IoMultipliers(_Strict):
    """Units per measured I/O operation, by what kind of request it is."""

    none: float = Field(default=0, ge=0)
    http: float = Field(default=1, ge=0)
    chat: float = Field(default=2, ge=0)
    chain_read: float = Field(default=3, ge=0)
    chain_write: float = Field(default=10, ge=0)

    def of(self, io_class: IoClass) -> float:
        return float(getattr(self, io_class))


class TierThresholds(_Strict):
    """Tier by absolute calls per execution on `basis`: a step's tier never depends on the other steps.

    Defaults anchor the former ratio thresholds (√30 ≈ 5.5× and 36× "the lightest", the log-midpoints
    between the seed's tiers) at the seed's light figure of 5K calls: 27,500 and 180,000, so the seed's
    webhook ≈ 5K, Slack ≈ 150K and web3 ≈ 215K land in the seed's tiers.
    """

    medium_calls: float = Field(default=27_500, gt=0)
    heavy_calls: float = Field(default=180_000, gt=0)
    basis: CallBasis = Field(
        default="cost_calls",
        description="cost_calls: warm execution + cold_start_rate × (marginal import + cold extra); all: "
        "import + first execution, every category (the seed's figures); cold: marginal import + first "
        "execution; own_packages: import + first execution, own code and packages only (deterministic); "
        "own_packages_node_execute: plus Node internals of the execution",
    )

    @model_validator(mode="before")
    @classmethod
    def _no_ratios(cls, data: object) -> object:
        if isinstance(data, dict):
            for old in ("medium_ratio", "heavy_ratio"):
                if old in data:
                    raise ValueError(f"{old} is gone: tiers are absolute calls per execution (a step's tier must "
                                     "not depend on the other steps); give medium_calls and heavy_calls")
        return data

    @model_validator(mode="after")
    def _ordered(self) -> TierThresholds:
        if self.heavy_calls <= self.medium_calls:
            raise ValueError(
                f"heavy_calls ({self.heavy_calls:g}) must be greater than medium_calls ({self.medium_calls:g})"
            )
        return self

    def tier_of(self, calls: float) -> Tier:
        if calls >= self.heavy_calls:
            return "heavy"
        if calls >= self.medium_calls:
            return "medium"
        return "light"


# A worker imports the platform once and serves many executions warm; only the executions that start a
# process pay the import and the first (cold) execution. 5 %: a process recycled (deploy, scale-down, crash)
# about every 20 executions. Set it from your own metrics: cold starts / executions.
DEFAULT_COLD_START_RATE = 0.05


ChargeFailed = Literal["full", "steps_run", "none"]
CHARGE_FAILED: tuple[str, ...] = get_args(ChargeFailed)


class ScenarioPrices(_Strict):
    """Prices of the billing models `pricing_scenarios` replays the traces under (currency per quantity).

    Every price is required once the table is given: a what-if with a forgotten price would compare
    against a model that charges nothing.
    """

    unit: float = Field(ge=0, description="wfprof units: price per unit (the current model)")
    execution: float = Field(ge=0, description="flat per execution (n8n-style)")
    step: float = Field(ge=0, description="per step run, triggers excluded (Inngest-style, with `run`)")
    run: float = Field(ge=0, description="per run, added to the per-step charge")
    compute_second: float = Field(ge=0, description="per second of step compute in the traces (Trigger.dev-style)")
    cpu_ms: float = Field(ge=0, description="per CPU ms: the profiles' warm CPU time of each step run")


# Placeholders of the same order as a unit at 0.001 on the demo (about 7 units per execution): set your own.
DEFAULT_SCENARIO_PRICES = ScenarioPrices(unit=0.001, execution=0.005, step=0.001, run=0.002, compute_second=0.01,
                                         cpu_ms=0.0002)


class UsagePolicy(_Strict):
    """How real executions are charged (`execution_costs`) and the what-ifs (`pricing_scenarios`)."""

    trigger_units: float = Field(default=0, ge=0, description="units per trigger step run")
    charge_failed: ChargeFailed = Field(
        default="steps_run",
        description="failed or cancelled executions: full = every logged step run, the failing one included; "
        "steps_run = only the step runs that succeeded; none = nothing",
    )
    scenarios: ScenarioPrices = DEFAULT_SCENARIO_PRICES
    scenario_window_days: int = Field(default=30, ge=1, le=3660,
                                      description="pricing_scenarios replays the last N days ingested")


class PricingPolicy(_Strict):
    units: TierUnits = TierUnits()
    io_multipliers: IoMultipliers = IoMultipliers()
    tiers: TierThresholds = TierThresholds()
    cold_start_rate: float = Field(default=DEFAULT_COLD_START_RATE, ge=0, le=1)
    cold_start_rate_by_step: dict[str, Annotated[float, Field(ge=0, le=1)]] = Field(default_factory=dict)
    usage: UsagePolicy = UsagePolicy()
    # Limits of `wfprof gate` (lib/gate/limits.py); pricing ignores them.
    gate: GateTable | None = None

    def digest(self) -> str:
        """sha256 of what prices depend on, canonically serialized: the same content gives the same digest
        whatever the file's layout or key order; `gate` is left out (it prices nothing)."""
        canonical = json.dumps(self.model_dump(mode="json", exclude={"gate"}), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(canonical.encode()).hexdigest()

    def cold_start_rate_of(self, step_id: str) -> float:
        return self.cold_start_rate_by_step.get(step_id, self.cold_start_rate)

    def step_cost(self, tier: Tier, io_class: IoClass, io_operations: float) -> float:
        return self.units.of(tier) + self.io_multipliers.of(io_class) * io_operations


def _describe(exc: ValidationError) -> str:
    parts = []
    for err in exc.errors():
        field = ".".join(str(p) for p in err["loc"]) or "(policy)"
        parts.append(f"{field}: {err['msg']}")
    return "; ".join(parts)


def parse_policy(data: dict[str, object], *, source: str = "policy") -> PricingPolicy:
    try:
        return PricingPolicy.model_validate(data)
    except ValidationError as exc:
        raise PolicyError(f"invalid pricing policy {source}: {_describe(exc)}") from None


def load_policy(path: Path | str | None = None, environ: dict[str, str] | None = None) -> PricingPolicy:
    """The policy from `path`, else from `$WFPROF_PRICING_POLICY`, else the defaults (the seed's)."""
    if path is None:
        path = Settings.from_env(environ).pricing_policy
    if path is None:
        return PricingPolicy()
    path = Path(path)
    try:
        text = path.read_text()
    except OSError as exc:
        raise PolicyError(f"cannot read pricing policy {path}: {exc.strerror or exc}") from None
    try:
        data = json.loads(text) if path.suffix == ".json" else tomllib.loads(text)
    except (ValueError, tomllib.TOMLDecodeError) as exc:
        kind = path.suffix.lstrip(".") or "toml"
        raise PolicyError(f"pricing policy {path} is not valid {kind}: {exc}") from None
    return parse_policy(data, source=str(path))
