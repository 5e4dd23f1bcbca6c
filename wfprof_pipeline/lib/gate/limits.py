"""Gate limits: per measure, a hard limit (exit 1) and a soft one (exit 3), each a percentage or an
absolute increase. From the command line (`--max-increase calls=10%`, `--warn-increase calls=2%`,
`--max-units-increase 1`), the policy file's `[gate]` table, or the defaults below — in that order.

Only pydantic and the error base are imported: the pricing policy embeds `GateTable`.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping

from pydantic import BaseModel, ConfigDict, Field, field_validator

from wfprof_pipeline.lib.errors import WfprofError

# What the gate compares, and on what: steps (calls = own + packages, import + execute; units; io =
# requests per execution), step files (whole-file cyclomatic complexity), calibration workloads (fuel at
# the largest size) and stored code nodes (fuel).
MEASURES: tuple[str, ...] = ("calls", "units", "io", "complexity", "fuel", "user_code_fuel")
OFF = ("none", "off")


class LimitError(WfprofError, ValueError):
    """A limit that does not parse (unknown measure, not a number or a percentage, negative)."""


class Limit(BaseModel):
    model_config = ConfigDict(frozen=True)

    value: float = Field(ge=0)
    percent: bool

    @property
    def text(self) -> str:
        return f"+{self.value:g}%" if self.percent else f"+{self.value:g}"

    def exceeded(self, before: float, after: float) -> bool:
        """An increase beyond the limit; any increase from zero exceeds a percentage."""
        delta = after - before
        if delta <= 0:
            return False
        if not self.percent:
            return delta > self.value
        return before <= 0 or delta / before * 100 > self.value


_NUMBER = re.compile(r"^\+?(\d+(?:\.\d*)?|\.\d+)(%?)$")


def parse_limit(text: object, *, measure: str, where: str) -> Limit | None:
    """'10%' → 10 percent, '2' or 2 → absolute 2, 'none' → no limit."""
    if isinstance(text, bool):
        raise LimitError(f"{where}: limit for {measure} must be a number or a percentage, got {text!r}")
    if isinstance(text, int | float):
        if not math.isfinite(text) or text < 0:
            raise LimitError(f"{where}: limit for {measure} must be a number ≥ 0, got {text!r}")
        return Limit(value=float(text), percent=False)
    raw = str(text).strip().lower()
    if raw in OFF:
        return None
    match = _NUMBER.match(raw.replace(" ", ""))
    if not match:
        raise LimitError(f"{where}: limit {text!r} for {measure} is not a number or a percentage "
                         "(e.g. 10% or 2, or none)")
    return Limit(value=float(match.group(1)), percent=bool(match.group(2)))


def _measure(name: str, where: str) -> str:
    name = name.strip()
    if name not in MEASURES:
        raise LimitError(f"{where}: unknown measure {name!r}; measures: {', '.join(MEASURES)}")
    return name


def parse_assignments(items: Iterable[str], *, flag: str) -> dict[str, Limit | None]:
    """['calls=10%', 'units=1,io=0'] → {calls: 10 %, units: 1, io: 0}."""
    out: dict[str, Limit | None] = {}
    for item in items:
        for part in (p for p in item.split(",") if p.strip()):
            name, sep, value = part.partition("=")
            where = f"{flag} {part.strip()}"
            if not sep or not value.strip():
                raise LimitError(f"{where}: expected MEASURE=LIMIT, e.g. calls=10% or units=1")
            measure = _measure(name, where)
            out[measure] = parse_limit(value, measure=measure, where=where)
    return out


class GateTable(BaseModel):
    """`[gate]` in the pricing policy file:

        [gate]
        max_increase = { calls = "10%", complexity = 2 }
        warn_increase = { calls = "2%" }
        max_units_increase = 1
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    max_increase: dict[str, float | str] = Field(default_factory=dict)
    warn_increase: dict[str, float | str] = Field(default_factory=dict)
    max_units_increase: float | None = Field(default=None, ge=0)
    warn_units_increase: float | None = Field(default=None, ge=0)

    @field_validator("max_increase", "warn_increase")
    @classmethod
    def _known(cls, value: dict[str, float | str]) -> dict[str, float | str]:
        for name, limit in value.items():
            _measure(name, "[gate]")
            parse_limit(limit, measure=name, where="[gate]")
        return value

    def hard(self) -> dict[str, Limit | None]:
        out = {m: parse_limit(v, measure=m, where="[gate] max_increase") for m, v in self.max_increase.items()}
        if self.max_units_increase is not None:
            out["units"] = Limit(value=self.max_units_increase, percent=False)
        return out

    def soft(self) -> dict[str, Limit | None]:
        out = {m: parse_limit(v, measure=m, where="[gate] warn_increase") for m, v in self.warn_increase.items()}
        if self.warn_units_increase is not None:
            out["units"] = Limit(value=self.warn_units_increase, percent=False)
        return out


# Defaults: more than 10 % more calls or more than one unit more per execution fails; any growth of a
# price, a request count, complexity or fuel, or calls up more than 2 %, warns.
DEFAULT_HARD: dict[str, Limit] = {"calls": Limit(value=10, percent=True), "units": Limit(value=1, percent=False)}
DEFAULT_SOFT: dict[str, Limit] = {
    "calls": Limit(value=2, percent=True),
    **{m: Limit(value=0, percent=False) for m in ("units", "io", "complexity", "fuel", "user_code_fuel")},
}


class Limits(BaseModel):
    hard: dict[str, Limit] = Field(default_factory=dict)
    soft: dict[str, Limit] = Field(default_factory=dict)

    def describe(self) -> str:
        def side(limits: Mapping[str, Limit]) -> str:
            return ", ".join(f"{m} {limits[m].text}" for m in MEASURES if m in limits) or "none"

        return f"hard: {side(self.hard)}; soft: {side(self.soft)}"


def resolve(*layers: tuple[Mapping[str, Limit | None], Mapping[str, Limit | None]]) -> Limits:
    """Defaults, then each (hard, soft) layer in order; a later layer replaces a measure's limit, and
    `none` removes it."""
    hard: dict[str, Limit | None] = dict(DEFAULT_HARD)
    soft: dict[str, Limit | None] = dict(DEFAULT_SOFT)
    for h, s in layers:
        hard.update(h)
        soft.update(s)
    return Limits(hard={m: v for m, v in hard.items() if v is not None},
                  soft={m: v for m, v in soft.items() if v is not None})
