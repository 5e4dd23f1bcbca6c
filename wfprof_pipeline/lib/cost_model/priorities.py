"""`optimization_priorities`: the seed's optimization list, re-ranked by what the measurements say.

Each opportunity carries the measured share of calls it addresses and an estimated reduction of all
calls computed from the data (the formula is in `basis`). An opportunity whose inputs were not measured
is still listed, with null figures and a note, and ranked last — never given a copied number.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field

import polars as pl

from wfprof_pipeline.lib.cost_model.breakdown import share
from wfprof_pipeline.lib.cost_model.correlation import strength
from wfprof_pipeline.lib.cost_model.tables import OPTIMIZATION_PRIORITIES


@dataclass
class Opportunity:
    opportunity: str
    area: str
    seed_impact: str
    measured_share: float | None = None
    estimated_reduction: float | None = None
    basis: str = ""
    seed_range: tuple[float, float] | None = None
    extra: dict[str, object] = field(default_factory=dict)

    def holds(self) -> bool | None:
        if self.estimated_reduction is None or self.seed_range is None:
            return None
        lo, hi = self.seed_range
        return lo <= self.estimated_reduction <= hi


def impact(reduction: float | None) -> str:
    if reduction is None:
        return "not measured"
    if reduction >= 0.30:
        return "high"
    if reduction >= 0.15:
        return "medium"
    return "low" if reduction > 0 else "none"


def _pct(x: float | None) -> str:
    return "n/a" if x is None else f"{x:.1%}"


def steps_using(package_calls: pl.DataFrame | None, package: str) -> set[str]:
    if package_calls is None or not package_calls.height:
        return set()
    hit = package_calls.filter((pl.col("package") == package) & (pl.col("calls") > 0))
    return set(hit["step_id"].to_list())


def web3_library_comparison(
    tiers: pl.DataFrame, package_calls: pl.DataFrame | None, all_calls: dict[str, int]
) -> Opportunity:
    opp = Opportunity("Lighter web3 library (viem instead of ethers)", "step packages",
                      "medium (15-25%)", seed_range=(0.15, 0.25))
    ethers, viem = steps_using(package_calls, "ethers"), steps_using(package_calls, "viem")
    # Only steps that use one library and not the other are a like-for-like comparison.
    ethers, viem = ethers - viem, viem - ethers
    total = sum(all_calls.values())
    if not ethers or not viem or total <= 0:
        opp.basis = (f"needs profiled steps on both libraries (ethers: {len(ethers)}, viem: {len(viem)}) "
                     "to compare their measured calls")
        return opp
    ethers_calls = [all_calls[s] for s in ethers if s in all_calls]
    viem_calls = [all_calls[s] for s in viem if s in all_calls]
    if not ethers_calls or not viem_calls:
        opp.basis = "the steps using ethers or viem have no usable profile"
        return opp
    viem_median = statistics.median(viem_calls)
    ethers_total = sum(ethers_calls)
    saved = sum(c - viem_median for c in ethers_calls)
    opp.measured_share = ethers_total / total
    opp.estimated_reduction = saved / total
    ratio = viem_median / statistics.median(ethers_calls)
    opp.basis = (
        f"ethers steps ({len(ethers_calls)}) make {_pct(opp.measured_share)} of all step calls "
        f"(import + execute, every category); a viem step makes {ratio:.2f}× the calls of an ethers step "
        f"(medians {viem_median:,.0f} vs {statistics.median(ethers_calls):,.0f}); replacing each ethers "
        f"step's calls by the viem median changes all step calls by {-opp.estimated_reduction:+.1%}"
    )
    opp.extra = {"viem_over_ethers": ratio}
    return opp


def rank(opportunities: list[Opportunity]) -> pl.DataFrame:
    ordered = sorted(
        opportunities,
        key=lambda o: (o.estimated_reduction is None, -(o.estimated_reduction or 0.0), o.opportunity),
    )
    rows = [
        {
            "rank": i,
            "opportunity": o.opportunity,
            "area": o.area,
            "measured_share": o.measured_share,
            "estimated_reduction": o.estimated_reduction,
            "impact": impact(o.estimated_reduction),
            "basis": o.basis,
            "seed_impact": o.seed_impact,
            "seed_claim_holds": o.holds(),
        }
        for i, o in enumerate(ordered, start=1)
    ]
    return pl.DataFrame(rows, schema=OPTIMIZATION_PRIORITIES.schema)


def priorities_table(
    measurements: pl.DataFrame,
    tiers: pl.DataFrame,
    breakdown: pl.DataFrame,
    correlation: pl.DataFrame,
    package_calls: pl.DataFrame | None = None,
    db_statements_per_run: float | None = None,
) -> pl.DataFrame:
    """`db_statements_per_run`: mean database statements per profiled workflow run (for batching)."""
    usable = measurements.filter(pl.col("profiled").fill_null(False) & pl.col("error").is_null())
    all_calls = {
        r["step_id"]: int((r["import_calls"] or 0) + (r["execute_calls"] or 0))
        for r in usable.iter_rows(named=True)
    }
    total = sum(all_calls.values())
    opps: list[Opportunity] = []

    # Database: batching N statements into one saves (N-1)/N of the per-statement work.
    db = Opportunity("Batch database writes and pool connections", "workflow database",
                     "high (30-50%)", seed_range=(0.30, 0.50))
    db.measured_share = share(breakdown, "workflows", "all", "database")
    if db.measured_share is None:
        db.basis = "no profiled workflow runs: the database share is not measured"
    elif db_statements_per_run and db_statements_per_run > 1:
        k = db_statements_per_run
        db.estimated_reduction = db.measured_share * (k - 1) / k
        db.basis = (f"database calls are {_pct(db.measured_share)} of workflow-run calls; batching the "
                    f"{k:.1f} statements of a run into one saves (k-1)/k of them")
    else:
        db.estimated_reduction = db.measured_share
        db.basis = (f"database calls are {_pct(db.measured_share)} of workflow-run calls "
                    "(upper bound: statements per run not measured)")
    opps.append(db)

    opps.append(web3_library_comparison(tiers, package_calls, all_calls))

    # Lazy loading: a run that does not execute a heavy step need not pay for importing it.
    lazy = Opportunity("Lazy-load heavy SDKs (import on first use)", "step imports", "medium (15-25%)",
                       seed_range=(0.15, 0.25))
    heavy = set(tiers.filter(pl.col("tier") == "heavy")["step_id"].to_list())
    imports = {r["step_id"]: int(r["import_calls"] or 0) for r in usable.iter_rows(named=True)}
    if total > 0:
        lazy.measured_share = sum(imports.values()) / total
        lazy.estimated_reduction = sum(v for s, v in imports.items() if s in heavy) / total
        lazy.basis = (f"imports are {_pct(lazy.measured_share)} of all step calls; the {len(heavy)} heavy "
                      f"step(s)' imports, avoidable when a run does not use them, are "
                      f"{_pct(lazy.estimated_reduction)}")
    else:
        lazy.basis = "no profiled step calls"
    opps.append(lazy)

    own = share(breakdown, "steps", "all", "own")
    packages = share(breakdown, "steps", "all", "packages")
    refactor = Opportunity("Refactor step code", "step code", "low (<5%)", seed_range=(0.0, 0.05))
    refactor.measured_share = own
    refactor.estimated_reduction = own
    refactor.basis = (
        f"the steps' own code makes {_pct(own)} of their calls (upper bound: the code doing nothing)"
        if own is not None else "no profiled steps"
    )
    opps.append(refactor)

    complexity = Opportunity("Reduce cyclomatic complexity", "step code", "low (<5%)", seed_range=(0.0, 0.05))
    hit = correlation.filter(
        (pl.col("static_metric") == "cyclomatic_complexity") & (pl.col("runtime_measure") == "tier_calls")
    )
    row = hit.row(0, named=True) if hit.height else None
    if row is None or row["status"] != "ok" or own is None:
        why = row["note"] if row is not None and row["note"] else "no correlation measured"
        complexity.basis = f"complexity vs calls: {why}"
    else:
        rho, p = row["rho"], row["p_value"]
        explained = rho * rho if (p is not None and p < 0.05 and rho > 0) else 0.0
        complexity.measured_share = own
        complexity.estimated_reduction = own * explained
        complexity.basis = (f"Spearman ρ(complexity, calls) = {rho:.2f} (n = {row['n']}, p = {p:.3g}, "
                            f"{strength(rho)}); own-code share {_pct(own)} × ρ² if significant")
    opps.append(complexity)

    pkg_rows = breakdown.filter(pl.col("scope") == "package").sort("calls", descending=True)
    deps = Opportunity("Replace or trim the heaviest dependency", "step packages", "(not in the seed)")
    deps.measured_share = packages
    if pkg_rows.height:
        top = pkg_rows.row(0, named=True)
        deps.estimated_reduction = top["share"]
        deps.basis = (f"packages make {_pct(packages)} of all step calls; the heaviest, {top['subject']}, "
                      f"alone {_pct(top['share'])}")
    else:
        deps.basis = (f"packages make {_pct(packages)} of all step calls; no per-package counts measured"
                      if packages is not None else "no profiled steps")
    opps.append(deps)
    return rank(opps)
