"""Where the seed's claims hold and where they do not, from the computed tables."""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl

from wfprof_pipeline.lib.cost_model import seed
from wfprof_pipeline.lib.cost_model.breakdown import share


@dataclass(frozen=True)
class ClaimCheck:
    key: str
    claim: str
    measured: str
    holds: bool | None  # None: not measured


def _claim(key: str) -> str:
    return next(c.text for c in seed.SEED_CLAIMS if c.key == key)


def _pct(x: float | None) -> str:
    return "n/a" if x is None else f"{x:.1%}"


def _matching(measurements: pl.DataFrame, needles: tuple[str, ...], exclude: tuple[str, ...] = ()) -> pl.DataFrame:
    usable = measurements.filter(pl.col("profiled").fill_null(False) & pl.col("error").is_null())
    text = (pl.col("step_id") + " " + pl.col("action_type").fill_null("")).str.to_lowercase()
    cond = pl.lit(False)
    for n in needles:
        cond = cond | text.str.contains(n, literal=True)
    for n in exclude:
        cond = cond & ~text.str.contains(n, literal=True)
    return usable.filter(cond)


EXECUTOR_NAMES = {"platform": "the platform's own executor", "wfprof": "wfprof's runner"}


def _executor_note(workflow_calls: pl.DataFrame | None) -> str:
    """Which executor ran the profiled workflows: the seed's figure came from the platform's own."""
    if workflow_calls is None or "executor" not in workflow_calls.columns or not workflow_calls.height:
        return " (executor not recorded)"
    used = sorted({str(e) for e in workflow_calls["executor"].drop_nulls().to_list()})
    if not used:
        return " (executor not recorded)"
    names = " and ".join(EXECUTOR_NAMES.get(e, e) for e in used)
    caveat = "" if used == ["platform"] else "; the seed measured the platform's own executor"
    return f", measured through {names}{caveat}"


def check_claims(
    measurements: pl.DataFrame,
    breakdown: pl.DataFrame,
    correlation: pl.DataFrame,
    priorities: pl.DataFrame,
    fuel_per_op: float | None = None,
    latency: pl.DataFrame | None = None,
    pricing: pl.DataFrame | None = None,
    *,
    workflow_calls: pl.DataFrame | None = None,
) -> list[ClaimCheck]:
    checks: list[ClaimCheck] = []

    hit = correlation.filter(
        (pl.col("static_metric") == "cyclomatic_complexity") & (pl.col("runtime_measure") == "tier_calls")
    )
    row = hit.row(0, named=True) if hit.height else None
    if row is None or row["status"] != "ok":
        checks.append(ClaimCheck("static_not_runtime", _claim("static_not_runtime"),
                                 row["note"] if row and row["note"] else "not measured", None))
    else:
        holds = abs(row["rho"]) < 0.4 or row["p_value"] >= 0.05
        checks.append(ClaimCheck(
            "static_not_runtime", _claim("static_not_runtime"),
            f"Spearman ρ(complexity, calls) = {row['rho']:.2f}, n = {row['n']}, p = {row['p_value']:.3g}",
            holds))

    own = share(breakdown, "steps", "all", "own")
    checks.append(ClaimCheck(
        "dependencies_dominate", _claim("dependencies_dominate"),
        f"own step code is {_pct(own)} of all step calls; "
        f"packages {_pct(share(breakdown, 'steps', 'all', 'packages'))}, "
        f"Node internals {_pct(share(breakdown, 'steps', 'all', 'node_internals'))}",
        None if own is None else own < seed.SEED_STEP_CODE_SHARE_MAX))

    db = share(breakdown, "workflows", "all", "database")
    checks.append(ClaimCheck(
        "database_expensive", _claim("database_expensive"),
        f"database calls are {_pct(db)} of profiled workflow-run calls{_executor_note(workflow_calls)}",
        None if db is None else db >= seed.SEED_DB_SHARE_MIN))

    parts, verdicts = [], []
    # Each figure against the step the seed names: its web3 example is `profile:step --step
    # web3/check-balance` (an ethers balance read); a transfer signs, so it is no measure of the claim, and
    # viem steps are compared in the priorities.
    for key, needles, exclude in (("webhook", ("webhook",), ()), ("slack", ("slack",), ()),
                                  ("web3", ("check-balance",), ("viem",))):
        figure = seed.SEED_TIER_CALLS[key][0]
        steps = _matching(measurements, needles, exclude)
        if not steps.height:
            parts.append(f"{key}: not profiled")
            continue
        calls = (steps["import_calls"].fill_null(0) + steps["execute_calls"].fill_null(0)).to_list()
        med = sorted(calls)[len(calls) // 2]
        ok = figure / 2 <= med <= figure * 2
        verdicts.append(ok)
        parts.append(f"{key}: {med:,} calls (seed {figure:,}; {'within' if ok else 'outside'} 2×)")
    checks.append(ClaimCheck("tier_figures", _claim("tier_figures"), "; ".join(parts),
                             all(verdicts) if verdicts else None))

    web3 = priorities.filter(pl.col("opportunity").str.contains("viem"))
    w = web3.row(0, named=True) if web3.height else None
    checks.append(ClaimCheck("lighter_web3", _claim("lighter_web3"),
                             w["basis"] if w else "not measured", w["seed_claim_holds"] if w else None))

    if fuel_per_op is None:
        checks.append(ClaimCheck("fuel_budget", _claim("fuel_budget"), "no fuel fits", None))
    else:
        ratio = fuel_per_op / seed.SEED_FUEL_PER_OP
        checks.append(ClaimCheck(
            "fuel_budget", _claim("fuel_budget"),
            f"fitted marginal fuel per op (median over workloads) = {fuel_per_op:,.0f} "
            f"({ratio:.2f}× the seed's)",
            0.75 <= ratio <= 1.25))
    checks.append(_pricing_table(pricing))
    checks.append(_io_variance(latency))
    return checks


# The seed's step types, recognised in measured steps by I/O class and by name.
_SEED_TYPES = (
    ("webhook", lambda sid, io: "webhook" in sid),
    ("email", lambda sid, io: "email" in sid or "resend" in sid or "sendgrid" in sid),
    ("slack", lambda sid, io: "slack" in sid),
    ("web3 (read)", lambda sid, io: io == "chain_read"),
    ("web3 (write)", lambda sid, io: io == "chain_write"),
)


def _pricing_table(pricing: pl.DataFrame | None) -> ClaimCheck:
    """The measured price of each seed step type (median over the steps of that type) vs the seed's total."""
    if pricing is None or not pricing.height:
        return ClaimCheck("pricing_table", _claim("pricing_table"), "no priced steps", None)
    priced = pricing.filter(pl.col("total_units").is_not_null())
    parts, verdicts = [], []
    for name, match in _SEED_TYPES:
        units = sorted(r["total_units"] for r in priced.iter_rows(named=True)
                       if match(r["step_id"].lower(), r["io_class"]))
        if not units:
            continue
        med = units[len(units) // 2]
        seed_total = seed.SEED_PRICING_TABLE[name][2]
        verdicts.append(med == seed_total)
        parts.append(f"{name}: {med:g} (seed {seed_total:g})")
    if not parts:
        return ClaimCheck("pricing_table", _claim("pricing_table"), "no step of the seed's types is priced", None)
    return ClaimCheck("pricing_table", _claim("pricing_table"), "; ".join(parts), all(verdicts))


def _io_variance(latency: pl.DataFrame | None) -> ClaimCheck:
    """p95 / p5 of step latency per web3 action type (robust to single outliers, unlike max / min)."""
    if latency is None or not latency.height:
        return ClaimCheck("io_variance", _claim("io_variance"), "no workflow traces", None)
    web3 = latency.filter(pl.col("action_type").str.contains("web3") & (pl.col("p5") > 0))
    if not web3.height:
        return ClaimCheck("io_variance", _claim("io_variance"), "no web3 step runs in the traces", None)
    spreads = [(r["action_type"], r["p95"] / r["p5"], r["n"]) for r in web3.iter_rows(named=True)]
    text = "; ".join(f"{a}: p95/p5 = {s:.1f}× (n = {n:,})" for a, s, n in spreads)
    return ClaimCheck("io_variance", _claim("io_variance"), text,
                      max(s for _, s, _ in spreads) >= seed.SEED_IO_VARIANCE)


def claims_markdown(checks: list[ClaimCheck]) -> str:
    mark = {True: "holds", False: "**does not hold**", None: "not measured"}
    lines = ["| seed claim | measured | verdict |", "|---|---|---|"]
    for c in checks:
        lines.append(f"| {c.claim} | {c.measured} | {mark[c.holds]} |")
    return "\n".join(lines)
