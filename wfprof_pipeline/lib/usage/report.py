"""The usage sections of the cost report: cost per workflow, customers under each model, the fuel cap."""

from __future__ import annotations

from dataclasses import dataclass
from html import escape

import duckdb
import polars as pl

from wfprof_pipeline.lib.cost_model.inputs import read_table
from wfprof_pipeline.lib.cost_model.report import table
from wfprof_pipeline.lib.usage.scenarios import MODELS, totals
from wfprof_pipeline.lib.usage.tables import FUEL_LIMIT_RECOMMENDATIONS, PRICING_SCENARIOS, WORKFLOW_COSTS


@dataclass(frozen=True)
class UsageTables:
    workflow_costs: pl.DataFrame | None = None
    pricing_scenarios: pl.DataFrame | None = None
    fuel_limits: pl.DataFrame | None = None

    @classmethod
    def read(cls, con: duckdb.DuckDBPyConnection) -> UsageTables:
        return cls(read_table(con, WORKFLOW_COSTS.name), read_table(con, PRICING_SCENARIOS.name),
                   read_table(con, FUEL_LIMIT_RECOMMENDATIONS.name))


def _money(v: object) -> str:
    return "—" if v is None else f"{v:,.4f}"


def _units(v: object) -> str:
    return "—" if v is None else f"{v:,.1f}"


def _missing(name: str) -> str:
    return f"<p class='muted'>Not computed: the {escape(name)} table does not exist yet (run `wfprof run`).</p>"


def workflows_html(frame: pl.DataFrame | None) -> str:
    if frame is None:
        return _missing(WORKFLOW_COSTS.name)
    if not frame.height:
        return "<p class='muted'>No priced executions in the window.</p>"
    first = frame.row(0, named=True)
    return (f"<p>Units per execution under the current policy, {first['window_start']} … {first['window_end']} "
            "(the last days ingested). Projected = units per day × 30.</p>"
            + table(frame, [("workflow_id", "workflow", None), ("executions", "executions", None),
                            ("failed_executions", "failed", None), ("subjects", "customers", None),
                            ("units_per_execution_p50", "units / execution p50", _units),
                            ("units_per_execution_p95", "p95", _units), ("units_per_day", "units / day", _units),
                            ("projected_units_30d", "projected 30 days", _units),
                            ("unpriced_steps", "steps without a price", None)]))


def customers_html(frame: pl.DataFrame | None) -> str:
    if frame is None:
        return _missing(PRICING_SCENARIOS.name)
    if not frame.height:
        return "<p class='muted'>No charged executions in the window.</p>"
    legend = "".join(f"<li><b>{escape(m)}</b>: {escape(text)}</li>" for m, text in MODELS.items())
    per_customer = frame.filter(pl.col("model") != "units").sort("model", "change_rank")
    return ("<p>The window's executions replayed under each billing model (prices: policy "
            "<code>usage.scenarios</code>); change = revenue − revenue under the current model (units).</p>"
            f"<ul>{legend}</ul>"
            + table(totals(frame), [("model", "model", None), ("customers", "customers", None),
                                    ("revenue", "revenue", _money), ("current_revenue", "current", _money),
                                    ("change", "change", _money), ("pays_most_more", "pays most more", None),
                                    ("pays_most_less", "pays most less", None)])
            + "<h3>Per customer</h3>"
            + table(per_customer, [("model", "model", None), ("subject", "customer", None),
                                   ("executions", "executions", None), ("quantity", "quantity", _units),
                                   ("revenue", "revenue", _money), ("current_revenue", "current", _money),
                                   ("change", "change", _money),
                                   ("change_pct", "change %", lambda v: "—" if v is None else f"{v:+.0%}"),
                                   ("unmeasured_executions", "unmeasured", None)]))


def fuel_limit_html(frame: pl.DataFrame | None) -> str:
    if frame is None or not frame.height:
        return _missing(FUEL_LIMIT_RECOMMENDATIONS.name)
    pick = frame.filter(pl.col("recommended")).row(0, named=True)
    return (f"<h3>Fuel cap</h3><p>Recommended default: <b>{pick['cap']:,}</b> fuel per evaluation; the sandbox is "
            f"configured with a default of {pick['sandbox_default_fuel']:,} and a maximum of "
            f"{pick['sandbox_max_fuel']:,}. Why: {escape(pick['reasoning'] or '')}.</p>"
            + table(frame.filter(pl.col("stopped_share").is_not_null() | pl.col("recommended")),
                    [("cap", "cap", None), ("evaluations", "evaluations", None), ("stopped", "stopped", None),
                     ("stopped_share", "share stopped", lambda v: "—" if v is None else f"{v:.0%}"),
                     ("workflows_affected", "workflows affected", None),
                     ("affected_workflows", "which", lambda v: escape(v or "")),
                     ("recommended", "recommended", lambda v: "✔" if v else "")]))
