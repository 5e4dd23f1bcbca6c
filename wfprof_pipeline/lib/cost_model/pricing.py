"""`step_pricing`: the seed's formula `total = base_units(tier) + io_multiplier(io_class) × io_operations`.

A chain-write step's requests are not all writes (an ethers transfer makes 8 JSON-RPC round trips: nonce,
gas, fees, receipt …, and one `eth_sendRawTransaction`). When the requests were measured, the writes are
charged at `chain_write` and the other requests at `chain_read`.
"""

from __future__ import annotations

import polars as pl

from wfprof_pipeline.lib.cost_model.io_class import choose_io_class
from wfprof_pipeline.lib.cost_model.policy import PricingPolicy
from wfprof_pipeline.lib.cost_model.tables import PRICING_CONTEXT, STEP_PRICING
from wfprof_pipeline.lib.cost_model.tiers import STATUS_OK, coverage_of

# What price_steps computes; the per-step context columns are joined on by model.pricing_with_context.
_PRICE_SCHEMA = {n: t for n, t in STEP_PRICING.schema.items() if n not in PRICING_CONTEXT}


def price_steps(measurements: pl.DataFrame, tiers: pl.DataFrame, policy: PricingPolicy) -> pl.DataFrame:
    """One row per step; a step without a tier (no profile, failed profile) or with an unknown declared
    I/O class is listed with its status and null units — never silently priced."""
    tier_by_step = {r["step_id"]: r for r in tiers.iter_rows(named=True)}
    rows = []
    for m in measurements.iter_rows(named=True):
        t = tier_by_step.get(m["step_id"], {})
        tier = t.get("tier")
        status = t.get("status") or STATUS_OK
        notes = [t["note"]] if t.get("note") else []
        choice = choose_io_class(m["declared_io_class"], m["rpc_methods"], m["io_operations"])
        if choice.note:
            notes.append(choice.note)
        io_ops = m["io_operations"]
        if status == STATUS_OK and choice.io_class is None:
            status = "invalid_io_class"
        if status == STATUS_OK and io_ops is None:
            status = "missing_io_operations"
            notes.append("the profile has no request count")
        priced = status == STATUS_OK and tier is not None
        base = policy.units.of(tier) if tier is not None else None
        mult = policy.io_multipliers.of(choice.io_class) if choice.io_class is not None else None
        writes = m.get("io_write_operations")
        total = policy.step_cost(tier, choice.io_class, io_ops) if priced else None
        if priced and choice.io_class == "chain_write" and writes is not None and io_ops:
            writes = min(writes, io_ops)
            reads = io_ops - writes
            total = base + mult * writes + policy.io_multipliers.of("chain_read") * reads
            notes.append(f"{writes:g} write request(s) at chain_write, {reads:g} other request(s) at chain_read")
        rows.append(
            {
                "step_id": m["step_id"],
                "step_type": m["action_type"] or m["step_id"],
                "tier": tier,
                "base_units": base,
                "io_class": choice.io_class,
                "io_class_source": choice.source,
                "io_multiplier": mult,
                "io_operations": io_ops,
                "io_write_operations": writes,
                "total_units": total,
                "status": status,
                "coverage": coverage_of(status, total is not None, m.get("not_profiled_reason")),
                "note": "; ".join(notes) or None,
            }
        )
    return pl.DataFrame(rows, schema=_PRICE_SCHEMA).sort("step_id")
