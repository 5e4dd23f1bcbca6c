"""The report's usage sections: linked from the contents on its first screen, filled from the usage tables."""

from __future__ import annotations

import re

import duckdb
import polars as pl

from wfprof_pipeline.lib.cost_model.inputs import read_inputs
from wfprof_pipeline.lib.cost_model.model import compute_cost_model
from wfprof_pipeline.lib.cost_model.policy import PricingPolicy
from wfprof_pipeline.lib.cost_model.report import render_html
from wfprof_pipeline.lib.cost_model.synthetic import build_warehouse, write_registry
from wfprof_pipeline.lib.usage import costs, fuel_limits, scenarios
from wfprof_pipeline.lib.usage.report import UsageTables
from wfprof_pipeline_tests import usage_fixtures as fx


def _model(tmp_path):
    write_registry(tmp_path)
    build_warehouse(tmp_path / "w.duckdb")
    with duckdb.connect(str(tmp_path / "w.duckdb"), read_only=True) as con:
        return compute_cost_model(read_inputs(con, tmp_path))


def _usage() -> UsageTables:
    policy = PricingPolicy()
    c = costs.execution_costs(fx.EXECUTIONS, fx.STEP_RUNS, fx.PRICES, policy)
    code = pl.DataFrame({"workflow_id": ["wf_a"], "fuel_consumed": [40_000_000], "fuel_budget": [500_000_000],
                         "success": [True], "error_kind": [None]})
    return UsageTables(costs.workflow_costs(c, policy), scenarios.pricing_scenarios(c, policy),
                       fuel_limits.recommend(code, None, default_fuel=2_000_000_000, max_fuel=20_000_000_000))


def test_usage_sections_are_linked_from_the_first_screen_and_filled(tmp_path):
    html = render_html(_model(tmp_path), usage=_usage())
    nav = re.search(r"<nav>.*?</nav>", html, re.S).group(0)
    assert html.index(nav) < html.index("<h2 ")  # the contents come before the first section
    assert "<a href='#workflows'>Cost per workflow</a>" in nav
    assert "<a href='#customers'>Customers under each model</a>" in nav
    workflows = html[html.index("<h2 id='workflows'>"):html.index("<h2 id='customers'>")]
    assert "wf_a" in workflows and "projected 30 days" in workflows
    customers = html[html.index("<h2 id='customers'>"):]
    assert "per_step_and_run" in customers and "alice" in customers and "pays most more" in customers
    fuel = html[html.index("<h2 id='fuel'>"):html.index("<h2 id='static'>")]
    assert "Recommended default: <b>500,000,000</b>" in fuel and "maximum of 20,000,000,000" in fuel


def test_without_usage_tables_the_sections_say_so(tmp_path):
    html = render_html(_model(tmp_path))
    assert "the workflow_costs table does not exist yet" in html
    assert "the pricing_scenarios table does not exist yet" in html
