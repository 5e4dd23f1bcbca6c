"""Call-count regression: compare deterministic call counts (own + packages, precise mode) with the
previous materialization and flag steps whose count grew by more than a threshold."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class CountChange:
    step_id: str
    phase: str
    previous: int
    current: int

    @property
    def change_pct(self) -> float:
        if self.previous == 0:
            return 0.0 if self.current == 0 else float("inf")
        return (self.current - self.previous) / self.previous * 100.0

    def describe(self) -> str:
        pct = "new calls" if self.change_pct == float("inf") else f"{self.change_pct:+.1f} %"
        return f"{self.step_id} {self.phase}: {self.previous:,} → {self.current:,} ({pct})"


Counts = dict[tuple[str, str], int]


def compare_counts(previous: Counts, current: Counts, warn_pct: float) -> tuple[list[CountChange], list[CountChange]]:
    """(regressions above `warn_pct`, all changes) for step×phase pairs present in both."""
    changes = [
        CountChange(step, phase, previous[(step, phase)], count)
        for (step, phase), count in sorted(current.items())
        if (step, phase) in previous and previous[(step, phase)] != count
    ]
    return [c for c in changes if c.change_pct > warn_pct], changes
