"""Correlations, breakdowns, priorities and seed-claim checks on measurement frames built in the test."""

from __future__ import annotations

import math

import polars as pl
import pytest

from wfprof_pipeline.lib.cost_model.breakdown import breakdown_table, share
from wfprof_pipeline.lib.cost_model.claims import check_claims, claims_markdown
from wfprof_pipeline.lib.cost_model.correlation import correlation_table, spearman
from wfprof_pipeline.lib.cost_model.measurements import step_measurements
from wfprof_pipeline.lib.cost_model.policy import PricingPolicy
from wfprof_pipeline.lib.cost_model.priorities import priorities_table
from wfprof_pipeline.lib.cost_model.tiers import assign_tiers

# Shaped like the facts sheet's clean-setup measurements: (own, packages, node import, node execute,
# import total, execute total, package, static complexity).
STEPS = {
    "webhook/send": (2, 0, 364, 2_473, 366, 2_475, None, 6),
    "slack/post": (186 + 431, 0, 47_800, 2_454, 48_071, 2_885, "@slack/web-api", 4),
    "resend/send": (30 + 50, 0, 10_970, 2_660, 11_002, 2_709, "resend", 9),
    "sendgrid/send": (3_022 + 2_284, 0, 34_220, 1_692, 37_242, 3_976, "@sendgrid/mail", 3),
    "web3/ethers-read": (10, 3_656 + 3_400, 101_030, 1_471, 104_693, 4_881, "ethers", 12),
    "web3/viem-read": (10, 60_067 + 127, 287_664, 2_474, 347_741, 2_601, "viem", 7),
}


def _measurements() -> pl.DataFrame:
    rows = []
    for step, (own, pkgs, node_i, node_e, imp, exe, _, _) in STEPS.items():
        rows.append({"step_id": step, "calls_own": own, "calls_packages": pkgs, "calls_node_import": node_i,
                     "calls_node_execute": node_e, "import_calls": imp, "execute_calls": exe,
                     "io_operations": 1.0})
    rows.append({"step_id": "discord/post"})  # never profiled
    return step_measurements(rows)


def _package_calls() -> pl.DataFrame:
    return pl.DataFrame(
        [{"step_id": s, "package": v[6], "calls": v[1] or v[0]} for s, v in STEPS.items() if v[6]],
        schema={"step_id": pl.Utf8, "package": pl.Utf8, "calls": pl.Int64},
    )


def test_spearman_matches_hand_ranked_values() -> None:
    assert spearman([1, 2, 3, 4, 5], [10, 20, 30, 40, 50])["rho"] == pytest.approx(1.0)
    assert spearman([1, 2, 3, 4, 5], [5, 4, 3, 2, 1])["rho"] == pytest.approx(-1.0)
    # ranks x = 1..5, y = 2,1,4,3,5 → d² = 1+1+1+1+0 = 4 → ρ = 1 - 6·4 / (5·24) = 0.8
    got = spearman([1, 2, 3, 4, 5], [20, 10, 40, 30, 50])
    assert got["rho"] == pytest.approx(0.8) and got["n"] == 5 and 0 < got["p_value"] < 1
    assert got["status"] == "ok"


def test_fewer_than_five_steps_is_reported_not_a_number() -> None:
    got = spearman([1, 2, 3, 4, None, 6], [1, 2, 3, 4, 5, None])
    assert got["status"] == "insufficient_data" and got["rho"] is None and got["n"] == 4
    assert "at least 5" in got["note"]
    const = spearman([3, 3, 3, 3, 3], [1, 2, 3, 4, 5])
    assert const["status"] == "constant_input" and const["rho"] is None
    nan = spearman([1, 2, float("nan"), 4, 5, 6], [1, 2, 3, 4, 5, 6])
    assert nan["n"] == 5 and nan["rho"] == pytest.approx(1.0)


def test_correlation_table_covers_every_pair_and_names_missing_columns() -> None:
    frame = pl.DataFrame(
        {"cyclomatic_complexity": [1, 5, 2, 8, 3, 9], "tier_calls": [10, 20, 30, 40, 50, 60]}
    )
    table = correlation_table(frame, ("cyclomatic_complexity", "lines"), ("tier_calls",))
    assert table.height == 2
    ok = table.row(0, named=True)
    assert ok["status"] == "ok" and ok["n"] == 6 and -1 <= ok["rho"] <= 1
    missing = table.row(1, named=True)
    assert missing["status"] == "missing_column" and "lines" in missing["note"] and missing["rho"] is None


def test_breakdown_shares_per_step_package_and_workflow() -> None:
    m = _measurements()
    workflows = pl.DataFrame({
        "workflow_id": ["wf1", "wf1", "wf1", "wf2", "wf2"],
        "category": ["Database", "step functions", "executor", "db", "external api"],
        "calls": [600, 300, 100, 0, 0],
    })
    table = breakdown_table(m, _package_calls(), workflows)
    assert set(table["scope"].unique().to_list()) == {"step", "steps", "package", "workflow", "workflows"}
    # Shares within a subject add up to 1.
    for (scope, subject), part in table.filter(pl.col("scope") != "package").group_by(["scope", "subject"]):
        total = part["share"].drop_nulls().sum()
        assert total == pytest.approx(1.0) or part["share"].null_count() == part.height, (scope, subject)
    own = sum(v[0] for v in STEPS.values())
    everything = sum(v[0] + v[1] + v[2] + v[3] for v in STEPS.values())
    assert share(table, "steps", "all", "own") == pytest.approx(own / everything)
    assert share(table, "workflow", "wf1", "database") == pytest.approx(0.6)
    # A workflow with zero calls gets null shares, not a division by zero; the unprofiled step is absent.
    assert table.filter(pl.col("subject") == "wf2")["share"].null_count() == 2
    assert "discord/post" not in table["subject"].to_list()
    viem = table.filter((pl.col("scope") == "package") & (pl.col("subject") == "viem")).row(0, named=True)
    assert viem["calls"] == 60_067 + 127


def test_priorities_are_ranked_from_the_data() -> None:
    m = _measurements()
    tiers = assign_tiers(m, PricingPolicy())
    workflows = pl.DataFrame({"workflow_id": ["wf"] * 3,
                              "category": ["database", "step_functions", "executor"],
                              "calls": [200, 700, 100]})
    breakdown = breakdown_table(m, _package_calls(), workflows)
    static = pl.DataFrame({"step_id": list(STEPS), "cyclomatic_complexity": [v[7] for v in STEPS.values()]})
    per_step = tiers.join(static, on="step_id", how="left")
    corr = correlation_table(per_step, ("cyclomatic_complexity",), ("tier_calls",))
    table = priorities_table(m, tiers, breakdown, corr, _package_calls(), db_statements_per_run=4)
    assert table["rank"].to_list() == list(range(1, table.height + 1))
    reductions = table["estimated_reduction"].drop_nulls().to_list()
    assert reductions == sorted(reductions, reverse=True)
    by = {r["opportunity"]: r for r in table.iter_rows(named=True)}
    db = by["Batch database writes and pool connections"]
    assert db["measured_share"] == pytest.approx(0.2)
    assert db["estimated_reduction"] == pytest.approx(0.2 * 3 / 4)
    assert db["seed_claim_holds"] is False  # 15 % is below the seed's 30-50 %
    web3 = by["Lighter web3 library (viem instead of ethers)"]
    total = sum(v[4] + v[5] for v in STEPS.values())
    ethers, viem = STEPS["web3/ethers-read"], STEPS["web3/viem-read"]
    expected = ((ethers[4] + ethers[5]) - (viem[4] + viem[5])) / total
    assert web3["estimated_reduction"] == pytest.approx(expected) and expected < 0  # viem is heavier here
    assert web3["seed_claim_holds"] is False and web3["impact"] == "none"
    assert "viem step makes" in web3["basis"]


def test_priorities_without_workflow_or_package_data_are_listed_last() -> None:
    m = _measurements()
    tiers = assign_tiers(m, PricingPolicy())
    breakdown = breakdown_table(m)
    corr = correlation_table(pl.DataFrame({"cyclomatic_complexity": [1], "tier_calls": [1]}))
    table = priorities_table(m, tiers, breakdown, corr)
    tail = table.filter(pl.col("estimated_reduction").is_null())
    measured = table.filter(pl.col("estimated_reduction").is_not_null())
    assert tail.height >= 2 and tail["rank"].min() > measured["rank"].max()
    assert set(tail["impact"].to_list()) == {"not measured"}


def test_seed_claims_are_checked_against_the_measurements() -> None:
    m = _measurements()
    tiers = assign_tiers(m, PricingPolicy())
    breakdown = breakdown_table(m, _package_calls())
    corr = correlation_table(pl.DataFrame({"cyclomatic_complexity": [1, 2, 3, 4, 5],
                                           "tier_calls": [5, 1, 4, 2, 3]}))
    prio = priorities_table(m, tiers, breakdown, corr, _package_calls())
    checks = {c.key: c for c in check_claims(m, breakdown, corr, prio, fuel_per_op=700.0)}
    assert checks["database_expensive"].holds is None  # no workflows profiled
    assert checks["fuel_budget"].holds is False and "0.11×" in checks["fuel_budget"].measured
    tier = checks["tier_figures"]
    assert tier.holds is False and "slack: 50,956 calls" in tier.measured
    assert checks["static_not_runtime"].holds is True  # ρ = -0.3
    md = claims_markdown(list(checks.values()))
    assert "**does not hold**" in md and md.count("\n") == len(checks) + 1
    assert not math.isnan(tiers["ratio_to_lightest"].drop_nulls().max())


@pytest.mark.parametrize(("p5", "p95", "holds"), [(10.0, 150.0, True), (10.0, 50.0, False)])
def test_io_variance_claim_uses_the_web3_latency_spread(p5: float, p95: float, holds: bool) -> None:
    m = _measurements()
    breakdown = breakdown_table(m)
    corr = correlation_table(pl.DataFrame({"cyclomatic_complexity": [1], "tier_calls": [1]}))
    prio = priorities_table(m, assign_tiers(m, PricingPolicy()), breakdown, corr)
    latency = pl.DataFrame({"action_type": ["web3/check-balance", "webhook/send-webhook"], "n": [40, 40],
                            "p5": [p5, 1.0], "p25": [p5, 2.0], "p50": [p5, 3.0], "p75": [p95, 4.0],
                            "p95": [p95, 900.0]})
    io = {c.key: c for c in check_claims(m, breakdown, corr, prio, latency=latency)}["io_variance"]
    assert io.holds is holds and f"p95/p5 = {p95 / p5:.1f}×" in io.measured and "webhook" not in io.measured
    none = {c.key: c for c in check_claims(m, breakdown, corr, prio)}["io_variance"]
    assert none.holds is None


def test_the_web3_figure_is_compared_with_the_balance_read_the_seed_names() -> None:
    """The seed's "web3 (ethers) ≈ 215K" comes from `profile:step --step web3/check-balance`: a transfer (which
    signs) or a viem variant is not that step."""
    rows = [{"step_id": sid, "action_type": sid, "calls_own": 1, "calls_packages": 0, "import_calls": imp,
             "execute_calls": exe, "profiled": True}
            for sid, imp, exe in (("web3/check-balance", 200_000, 32_000), ("web3/transfer-funds", 224_000, 431_000),
                                  ("web3/check-balance-viem", 350_000, 5_500), ("webhook/send-webhook", 1_300, 2_700),
                                  ("slack/send-message", 79_000, 2_400))]
    m = step_measurements(rows)
    tiers = assign_tiers(m, PricingPolicy())
    breakdown = breakdown_table(m, None)
    corr = correlation_table(pl.DataFrame({"cyclomatic_complexity": [1, 2, 3, 4, 5], "tier_calls": [5, 1, 4, 2, 3]}))
    checks = {c.key: c for c in check_claims(m, breakdown, corr, priorities_table(m, tiers, breakdown, corr, None),
                                             fuel_per_op=None)}
    assert "web3: 232,000 calls (seed 215,000; within 2×)" in checks["tier_figures"].measured


def test_a_variant_sharing_an_action_type_does_not_borrow_its_latency() -> None:
    from wfprof_pipeline.lib.cost_model.inputs import CostInputs
    from wfprof_pipeline.lib.cost_model.model import compute_cost_model

    m = step_measurements([
        {"step_id": "web3/check-balance", "action_type": "web3/check-balance", "calls_own": 10, "calls_packages": 0,
         "io_operations": 1},
        {"step_id": "web3/check-balance-viem", "action_type": "web3/check-balance", "calls_own": 10,
         "calls_packages": 0, "io_operations": 1},
    ])
    latency = pl.DataFrame({"action_type": ["web3/check-balance"], "n": [40], "p5": [10.0], "p25": [20.0],
                            "p50": [30.0], "p75": [40.0], "p95": [90.0]})
    per_step = compute_cost_model(CostInputs(measurements=m, latency=latency)).per_step
    by = {r["step_id"]: r for r in per_step.iter_rows(named=True)}
    assert by["web3/check-balance"]["p95_latency_ms"] == 90.0 and by["web3/check-balance"]["latency_note"] is None
    assert by["web3/check-balance-viem"]["p95_latency_ms"] is None
    assert "shares action type web3/check-balance with web3/check-balance" in by["web3/check-balance-viem"][
        "latency_note"]
