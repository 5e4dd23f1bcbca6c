"""Compare two snapshots measure by measure against the limits: the gate's verdict and exit code.

Exit codes: 0 within limits; 1 a hard limit exceeded; 4 a step failed to profile on either side (its
measures are unknown, so it cannot pass); 3 a soft limit exceeded. When several apply the first in that
order wins (1, then 4, then 3); the report lists all of them. Usage and measurement errors exit 2 before
any comparison (the CLI's error path).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Literal

from pydantic import BaseModel, Field

from wfprof_pipeline.lib.gate.limits import Limit, Limits
from wfprof_pipeline.lib.gate.models import Snapshot

EXIT_OK = 0
EXIT_HARD = 1
EXIT_USAGE = 2
EXIT_SOFT = 3
EXIT_PROFILE_FAILED = 4

Level = Literal["same", "improved", "changed", "soft", "hard"]
Kind = Literal["step", "file", "workload", "code_node"]
KIND_MEASURES: dict[str, tuple[str, ...]] = {
    "step": ("calls", "units", "io"),
    "file": ("complexity",),
    "workload": ("fuel",),
    "code_node": ("user_code_fuel",),
}


class Finding(BaseModel):
    kind: Kind
    subject: str
    measure: str
    before: float | None
    after: float | None
    delta: float | None = None
    delta_pct: float | None = None
    level: Level
    limit: str | None = None  # the exceeded limit, e.g. "hard +10%"
    detail: str | None = None


class StepFailure(BaseModel):
    step: str
    side: Literal["base", "head"]
    error: str


class PackageChange(BaseModel):
    step: str
    phase: str
    package: str
    before: int
    after: int

    @property
    def delta(self) -> int:
        return self.after - self.before


class DependencyChange(BaseModel):
    package: str
    before: str | None
    after: str | None


class SourceChanges(BaseModel):
    added: list[str] = Field(default_factory=list)
    removed: list[str] = Field(default_factory=list)
    modified: list[str] = Field(default_factory=list)
    lockfile_changed: bool = False

    @property
    def any(self) -> bool:
        return bool(self.added or self.removed or self.modified or self.lockfile_changed)


class GateResult(BaseModel):
    exit_code: int
    verdict: Literal["pass", "warn", "fail", "profile_failed"]
    base_label: str
    head_label: str
    notes: list[str] = Field(default_factory=list)
    limits: Limits
    findings: list[Finding] = Field(default_factory=list)
    new: dict[str, list[str]] = Field(default_factory=dict)  # kind -> subjects only in the head
    removed: dict[str, list[str]] = Field(default_factory=dict)  # kind -> subjects only in the base
    failures: list[StepFailure] = Field(default_factory=list)
    package_changes: list[PackageChange] = Field(default_factory=list)
    dependency_changes: list[DependencyChange] = Field(default_factory=list)
    source_changes: SourceChanges = Field(default_factory=SourceChanges)
    tier_changes: dict[str, str] = Field(default_factory=dict)  # step -> "light → heavy"

    @property
    def changed(self) -> list[Finding]:
        return [f for f in self.findings if f.level != "same"]

    @property
    def exceeded(self) -> list[Finding]:
        return [f for f in self.findings if f.level in ("soft", "hard")]


def _judge(before: float, after: float, hard: Limit | None, soft: Limit | None) -> tuple[Level, str | None]:
    if after == before:
        return "same", None
    if after < before:
        return "improved", None
    if hard is not None and hard.exceeded(before, after):
        return "hard", f"hard {hard.text}"
    if soft is not None and soft.exceeded(before, after):
        return "soft", f"soft {soft.text}"
    return "changed", None


def _finding(kind: Kind, subject: str, measure: str, before: float | None, after: float | None, limits: Limits,
             detail: str | None = None) -> Finding:
    if before is None or after is None:
        # e.g. a step priced on one side only: shown, not judged (its status says why)
        return Finding(kind=kind, subject=subject, measure=measure, before=before, after=after,
                       level="same" if before == after else "changed", detail=detail)
    level, limit = _judge(before, after, limits.hard.get(measure), limits.soft.get(measure))
    delta = after - before
    pct = None if before == 0 else delta / before * 100
    return Finding(kind=kind, subject=subject, measure=measure, before=before, after=after, delta=delta,
                   delta_pct=pct, level=level, limit=limit, detail=detail)


def _split(base: Iterable[str], head: Iterable[str]) -> tuple[list[str], list[str], list[str]]:
    b, h = set(base), set(head)
    return sorted(b & h), sorted(h - b), sorted(b - h)


def compare(base: Snapshot, head: Snapshot, limits: Limits, *, base_label: str = "baseline",
            head_label: str = "working tree", notes: Iterable[str] = ()) -> GateResult:
    result = GateResult(exit_code=EXIT_OK, verdict="pass", base_label=base_label, head_label=head_label,
                        notes=list(notes), limits=limits)
    sections = [s for s in head.sections if s in base.sections]
    for s in head.sections:
        if s not in base.sections:
            result.notes.append(f"{s}: not in the baseline, not compared")
    for s in base.sections:
        if s not in head.sections:
            result.notes.append(f"{s}: in the baseline only, not compared")
    if base.tool_version != head.tool_version:
        result.notes.append(f"the baseline was made by wfprof {base.tool_version}, this is {head.tool_version}")

    if "steps" in sections:
        _compare_steps(base, head, limits, result)
    if "static" in sections:
        common, new, gone = _split(base.files, head.files)
        _record(result, "file", new, gone)
        for f in common:
            b, h = base.files[f], head.files[f]
            result.findings.append(_finding("file", f, "complexity", b.cyclomatic_complexity,
                                            h.cyclomatic_complexity, limits, _function_detail(b, h)))
    if "fuel" in sections and base.fuel and head.fuel:
        if base.fuel.engine != head.fuel.engine:
            result.notes.append(f"fuel engine changed: {_engine(base.fuel.engine)} → {_engine(head.fuel.engine)}")
        common, new, gone = _split(base.fuel.workloads, head.fuel.workloads)
        _record(result, "workload", new, gone)
        for w in common:
            result.findings.append(_finding("workload", w, "fuel", base.fuel.workloads[w].fuel,
                                            head.fuel.workloads[w].fuel, limits))
    if "user_code" in sections and base.user_code_fuel is not None and head.user_code_fuel is not None:
        common, new, gone = _split(base.user_code_fuel, head.user_code_fuel)
        _record(result, "code_node", new, gone)
        for n in common:
            result.findings.append(_finding("code_node", n, "user_code_fuel", base.user_code_fuel[n].fuel,
                                            head.user_code_fuel[n].fuel, limits))

    result.source_changes = _source_changes(base, head)
    result.dependency_changes = [
        DependencyChange(package=p, before=base.tree.dependencies.get(p), after=head.tree.dependencies.get(p))
        for p in sorted(base.tree.dependencies.keys() | head.tree.dependencies.keys())
        if base.tree.dependencies.get(p) != head.tree.dependencies.get(p)
    ]
    if any(f.level == "hard" for f in result.findings):
        result.exit_code, result.verdict = EXIT_HARD, "fail"
    elif result.failures:
        result.exit_code, result.verdict = EXIT_PROFILE_FAILED, "profile_failed"
    elif any(f.level == "soft" for f in result.findings):
        result.exit_code, result.verdict = EXIT_SOFT, "warn"
    return result


def _engine(engine: dict[str, str]) -> str:
    return ", ".join(f"{k} {v}" for k, v in sorted(engine.items()))


def _record(result: GateResult, kind: str, new: list[str], gone: list[str]) -> None:
    if new:
        result.new[kind] = new
    if gone:
        result.removed[kind] = gone


def _compare_steps(base: Snapshot, head: Snapshot, limits: Limits, result: GateResult) -> None:
    if base.pricing and head.pricing and base.pricing.policy_sha256 != head.pricing.policy_sha256:
        result.notes.append("the pricing policy differs between the two snapshots: units may change for that reason")
    common, new, gone = _split(base.steps, head.steps)
    _record(result, "step", new, gone)
    for step in common:
        b, h = base.steps[step], head.steps[step]
        failed = False
        for side, snap in (("base", b), ("head", h)):
            if snap.status in ("failed", "not_profiled"):
                result.failures.append(StepFailure(step=step, side=side, error=snap.error or "failed"))
                failed = True
        if failed:
            continue
        result.findings.append(_finding("step", step, "calls", b.calls, h.calls, limits, _phase_detail(b, h)))
        tier = f"tier {b.tier} → {h.tier}" if b.tier != h.tier else None
        if tier:
            result.tier_changes[step] = f"{b.tier} → {h.tier}"
        result.findings.append(_finding("step", step, "units", b.units, h.units, limits, tier))
        result.findings.append(_finding("step", step, "io", b.io_operations, h.io_operations, limits))
        for phase in sorted(b.phases.keys() | h.phases.keys()):
            bp, hp = b.phases.get(phase), h.phases.get(phase)
            bpk = bp.by_package if bp else {}
            hpk = hp.by_package if hp else {}
            for pkg in sorted(bpk.keys() | hpk.keys()):
                if bpk.get(pkg, 0) != hpk.get(pkg, 0):
                    result.package_changes.append(PackageChange(step=step, phase=phase, package=pkg,
                                                                before=bpk.get(pkg, 0), after=hpk.get(pkg, 0)))
            bo, ho = (bp.own if bp else 0), (hp.own if hp else 0)
            if bo != ho:
                result.package_changes.append(PackageChange(step=step, phase=phase, package="(own code)",
                                                            before=bo, after=ho))
    result.package_changes.sort(key=lambda c: (c.step, -abs(c.delta), c.phase, c.package))


def _phase_detail(b: object, h: object) -> str | None:
    parts = []
    for phase in ("import", "execute"):
        bp, hp = b.phases.get(phase), h.phases.get(phase)  # type: ignore[attr-defined]
        bc = bp.own + bp.packages if bp else 0
        hc = hp.own + hp.packages if hp else 0
        if bc != hc:
            parts.append(f"{phase} {bc:,} → {hc:,}")
    return "; ".join(parts) or None


def _function_detail(b: object, h: object) -> str | None:
    """Functions whose complexity changed, matched by name and position among same-named functions."""
    def keyed(fs: list) -> dict[tuple[str, int], int]:
        seen: dict[str, int] = {}
        out = {}
        for f in fs:
            n = seen.get(f.name, 0)
            seen[f.name] = n + 1
            out[(f.name, n)] = f.complexity
        return out

    bf, hf = keyed(b.functions), keyed(h.functions)  # type: ignore[attr-defined]
    parts = [f"{name} {bf.get((name, i), 0)} → {hf.get((name, i), 0)}"
             for name, i in sorted(bf.keys() | hf.keys()) if bf.get((name, i)) != hf.get((name, i))]
    return "; ".join(parts[:5]) + (f"; … {len(parts) - 5} more" if len(parts) > 5 else "") if parts else None


def _source_changes(base: Snapshot, head: Snapshot) -> SourceChanges:
    common, new, gone = _split(base.tree.files, head.tree.files)
    return SourceChanges(
        added=new,
        removed=gone,
        modified=[f for f in common if base.tree.files[f] != head.tree.files[f]],
        lockfile_changed=base.tree.lockfile_sha256 != head.tree.lockfile_sha256,
    )
