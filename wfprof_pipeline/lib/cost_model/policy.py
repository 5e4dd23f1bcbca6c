"""The pricing policy: units per tier, I/O multiplier per I/O class, tier thresholds.

`step_cost = base_units(tier) + io_multiplier(io_class) × io_operations` — the seed's formula. The
defaults reproduce the seed's published table; a TOML/JSON file (`WFPROF_PRICING_POLICY`) overrides them.
Validation errors name the offending field (e.g. `io_multipliers.chain_writ: Extra inputs are not
permitted`), because the models forbid unknown keys and negative values.
"""

from __future__ import annotations

import json
import os
import tomllib
from pathlib import Path
from typing import Literal, get_args

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from wfprof_pipeline.lib.errors import WfprofError
from wfprof_pipeline.lib.gate.limits import GateTable

ENV_PRICING_POLICY = "WFPROF_PRICING_POLICY"

Tier = Literal["light", "medium", "heavy"]
TIERS: tuple[Tier, ...] = get_args(Tier)
IoClass = Literal["none", "http", "chat", "chain_read", "chain_write"]
IO_CLASSES: tuple[IoClass, ...] = get_args(IoClass)
# Which deterministic call counts a step is tiered on (see tiers.py).
CallBasis = Literal["own_packages", "own_packages_node_execute", "all"]


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
    """Tier by calls relative to the lightest step (ratio = calls / lightest calls).

    Defaults are the log-midpoints between the seed's tiers (light ≈ 5K = 1×, medium ≈ 150K = 30×,
    heavy ≈ 215K = 43×): √30 ≈ 5.5 and √(30 × 43) ≈ 36, so each seed figure lands in its seed tier.
    """

    medium_ratio: float = Field(default=5.5, gt=1)
    heavy_ratio: float = Field(default=36.0, gt=1)
    # Default "all": on the bundled corpus, own + packages gives the code step 7 calls and the webhook 9
    # (fetch runs inside Node's bundled undici, i.e. Node internals), so every other step lands at 12× to
    # 58,000× "the lightest" and almost everything is heavy. All calls (import + execute, every category)
    # are also what the seed's 5K / 150K / 215K figures count. The price: Node's import-phase internals
    # vary run to run (the profiler takes the median of its repeats); `own_packages` stays available.
    basis: CallBasis = Field(
        default="all",
        description="all: every call of the import and execute phases (the seed's figures count these); "
        "own_packages: only the step's own code and its npm packages (bit-identical run to run); "
        "own_packages_node_execute: plus Node internals of the execute phase (reproducible too)",
    )

    @model_validator(mode="after")
    def _ordered(self) -> TierThresholds:
        if self.heavy_ratio <= self.medium_ratio:
            raise ValueError(
                f"heavy_ratio ({self.heavy_ratio}) must be greater than medium_ratio ({self.medium_ratio})"
            )
        return self

    def tier_of(self, ratio: float) -> Tier:
        if ratio >= self.heavy_ratio:
            return "heavy"
        if ratio >= self.medium_ratio:
            return "medium"
        return "light"


class PricingPolicy(_Strict):
    units: TierUnits = TierUnits()
    io_multipliers: IoMultipliers = IoMultipliers()
    tiers: TierThresholds = TierThresholds()
    # Limits of `wfprof gate` (lib/gate/limits.py); pricing ignores them.
    gate: GateTable | None = None

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
        env = os.environ if environ is None else environ
        path = env.get(ENV_PRICING_POLICY, "").strip() or None
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
