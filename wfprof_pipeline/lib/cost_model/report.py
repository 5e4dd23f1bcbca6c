"""The cost report: one self-contained HTML file (inline CSS, SVG charts as data-URI images) and a
markdown summary for the Dagster asset's metadata."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from html import escape
from pathlib import Path
from typing import TYPE_CHECKING

import polars as pl

from wfprof_pipeline.lib.cost_model import svg
from wfprof_pipeline.lib.cost_model.claims import ClaimCheck
from wfprof_pipeline.lib.cost_model.model import CostModel, fuel_per_op_median
from wfprof_pipeline.lib.cost_model.seed import SEED_FUEL_PER_OP

if TYPE_CHECKING:
    from wfprof_pipeline.lib.usage.report import UsageTables

REPORT_FILE = "cost_report.html"

_CSS = """
body{font-family:system-ui,sans-serif;margin:2rem auto;max-width:1100px;color:#222;line-height:1.4}
h1{margin-bottom:0}h2{border-bottom:1px solid #ddd;padding-bottom:.2rem;margin-top:2rem}
table{border-collapse:collapse;font-size:.85rem;margin:.5rem 0}
th,td{border:1px solid #ddd;padding:.25rem .5rem;text-align:left;vertical-align:top}
th{background:#f5f5f5}td.num{text-align:right;font-variant-numeric:tabular-nums}
.bad{color:#c62828;font-weight:bold}.good{color:#2e7d32}.muted{color:#777}
.warn{background:#fff8e1;border-left:4px solid #ffb300;padding:.5rem 1rem}
img.chart{display:block;margin:.5rem 0;max-width:100%}
"""


def _num(v: object, digits: int = 0) -> str:
    if v is None:
        return "—"
    if isinstance(v, float):
        return f"{v:,.{digits}f}"
    if isinstance(v, int):
        return f"{v:,}"
    return escape(str(v))


def _pct(v: object) -> str:
    return "—" if v is None else f"{float(v):.1%}"


def table(frame: pl.DataFrame, cols: Sequence[tuple[str, str, Callable[[object], str] | None]]) -> str:
    """HTML table of `frame`: (column, header, formatter) — numbers right-aligned."""
    head = "".join(f"<th>{escape(h)}</th>" for _, h, _ in cols)
    body = []
    for row in frame.iter_rows(named=True):
        cells = []
        for c, _, f in cols:
            v = row.get(c)
            num = isinstance(v, int | float) and not isinstance(v, bool)
            text = f(v) if f else (_num(v, 2) if isinstance(v, float) else _num(v))
            cells.append(f"<td class='num'>{text}</td>" if num else f"<td>{text}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def _verdict(holds: bool | None) -> str:
    if holds is None:
        return "<span class='muted'>not measured</span>"
    return "<span class='good'>holds</span>" if holds else "<span class='bad'>does not hold</span>"


def charts(model: CostModel) -> dict[str, str]:
    """Chart name → SVG document."""
    tiers = model.tiers.filter(pl.col("tier_calls").is_not_null()).sort("tier_calls", descending=True)
    calls = svg.hbar(
        [(r["step_id"], float(r["tier_calls"]), svg.TIER_COLORS.get(r["tier"], "#9e9e9e"))
         for r in tiers.iter_rows(named=True)],
        f"Calls per step ({model.policy.tiers.basis.replace('_', ' ')}, import + execute)",
        log=True, legend={k: v for k, v in svg.TIER_COLORS.items() if k},
    )
    fits = model.inputs.fuel_fits
    fuel_items = []
    if fits is not None and {"workload", "fuel_per_op"} <= set(fits.columns):
        for r in fits.sort("fuel_per_op", descending=True, nulls_last=True).iter_rows(named=True):
            if r["fuel_per_op"] is not None and r["fuel_per_op"] > 0:
                fuel_items.append((str(r["workload"]), float(r["fuel_per_op"]), "#1e88e5"))
    fuel = svg.hbar(fuel_items, "Fitted marginal fuel per operation (WASM, QuickJS)", log=True)

    ps = model.per_step
    x = "cyclomatic_complexity"
    points = []
    if x in ps.columns:
        for r in ps.filter(pl.col("status") == "ok").iter_rows(named=True):
            points.append((r[x], r["tier_calls"], r["step_id"], svg.TIER_COLORS.get(r["tier"], "#9e9e9e")))
    scatter = svg.scatter(points, "Static complexity vs runtime calls", "cyclomatic complexity (static)",
                          "calls (runtime)")

    lat = model.inputs.latency
    box_rows = []
    if lat is not None:
        for r in lat.sort("p50", descending=True).iter_rows(named=True):
            box_rows.append((r["action_type"], r["p5"], r["p25"], r["p50"], r["p75"], r["p95"], int(r["n"])))
    latency = svg.boxplot(box_rows, "Step latency per action type (workflow traces)")

    b = model.breakdown
    step_shares = svg.stacked_shares(_share_rows(b, "steps", "step", "ALL STEPS"),
                                     "Where step calls go (import + execute)")
    wf_shares = svg.stacked_shares(_share_rows(b, "workflows", "workflow", "ALL RUNS"),
                                   "Workflow-run calls by category")
    return {"calls_per_step": calls, "fuel_per_op": fuel, "static_vs_runtime": scatter,
            "latency_by_action_type": latency, "step_category_shares": step_shares,
            "workflow_category_shares": wf_shares}



def _share_rows(breakdown: pl.DataFrame, total_scope: str, each_scope: str, total_label: str) -> list:
    """(label, {category: share}) for the overall row, then one row per subject of `each_scope`."""
    rows = []
    for scope in (total_scope, each_scope):
        part = breakdown.filter(pl.col("scope") == scope)
        for subject in part["subject"].unique(maintain_order=True).to_list():
            sub = part.filter(pl.col("subject") == subject)
            label = total_label if scope == total_scope else subject
            rows.append((label, dict(zip(sub["category"], sub["share"], strict=True))))
    return rows

def _claims_html(claims: list[ClaimCheck]) -> str:
    rows = "".join(
        f"<tr><td>{escape(c.claim)}</td><td>{escape(c.measured)}</td><td>{_verdict(c.holds)}</td></tr>"
        for c in claims
    )
    return f"<table><thead><tr><th>seed claim</th><th>measured</th><th>verdict</th></tr></thead>{rows}</table>"


def _fuel_budgets_html(model: CostModel) -> str:
    budgets = model.inputs.fuel_budgets
    if budgets is not None and budgets.height:
        return table(budgets, [(c, c.replace("_", " "), None) for c in budgets.columns])
    per_op = fuel_per_op_median(model.inputs.fuel_fits)
    if per_op is None:
        return "<p class='muted'>No fuel budgets: the fuel calibration has not run.</p>"
    rows = "".join(
        f"<tr><td class='num'>{n:,}</td><td class='num'>{n * per_op:,.0f}</td>"
        f"<td class='num'>{n * SEED_FUEL_PER_OP:,.0f}</td></tr>" for n in (1_000, 10_000, 100_000, 1_000_000)
    )
    return ("<p>From the median fitted marginal fuel per operation (fixed overhead not included).</p>"
            f"<table><thead><tr><th>operations</th><th>fuel (measured)</th><th>seed (naive)</th></tr></thead>"
            f"{rows}</table>")


def _user_code_html(user_code: pl.DataFrame | None) -> str:
    if user_code is None:
        return "<p class='muted'>Not measured: the user_code_fuel table does not exist yet.</p>"
    if not user_code.height:
        return "<p class='muted'>No code nodes in the stored workflows.</p>"
    return table(user_code, [("workflow_name", "workflow", None), ("node_label", "code node", None),
                             ("code_bytes", "bytes", None), ("inputs_source", "inputs from", None),
                             ("fuel_consumed", "fuel", None), ("fuel_budget", "budget", None),
                             ("success", "ok", None), ("error_kind", "error kind", None), ("error", "error", None)])


SECTIONS = (("prices", "What we charge"), ("coverage", "Step coverage"), ("tiers", "Tiers and evidence"),
            ("pricing", "Pricing details"), ("claims", "The seed's claims, measured"), ("fuel", "WASM fuel"),
            ("static", "Static metrics vs runtime"), ("latency", "Latency per action type"),
            ("calls", "Where the calls go"), ("priorities", "Optimization priorities"),
            ("workflows", "Cost per workflow"), ("customers", "Customers under each model"))


def _toc() -> str:
    return "<nav><b>Contents</b>: " + " · ".join(f"<a href='#{i}'>{escape(t)}</a>" for i, t in SECTIONS) + "</nav>"


def _h2(section: str) -> str:
    return f"<h2 id='{section}'>{escape(dict(SECTIONS)[section])}</h2>"


def _change_text(row: dict | None) -> str:
    if row is None or (row.get("units_before") is None and not row.get("new_step")):
        return "<span class='muted'>no earlier night</span>"
    if row.get("new_step"):
        return "new"
    delta = row.get("units_change")
    parts = ["—" if delta is None else ("no change" if delta == 0 else f"{delta:+g} units")]
    if row.get("tier_before") != row.get("tier_after"):
        parts.append(f"tier {row.get('tier_before') or '—'} → {row.get('tier_after') or '—'}")
    if row.get("source_changed"):
        parts.append("source changed")
    if row.get("dependencies_changed"):
        parts.append("dependencies changed")
    return escape(", ".join(parts))


def _cpu_html(model: CostModel) -> str:
    from wfprof_pipeline.lib.cost_model.cpu_fit import cpu_fit

    fit = cpu_fit(model.inputs.measurements).row(0, named=True)
    if fit["status"] != "ok":
        return f"<p class='muted'>Calls vs CPU time: {escape(fit['status'])} ({escape(fit['note'] or '')}).</p>"
    return (f"<p>Calls as a proxy for CPU (warm executions, n = {fit['n']}): Spearman ρ = {fit['rho']:.2f}; "
            f"median {fit['ms_per_1k_calls']:.2f} CPU ms per 1,000 calls (quartiles {fit['ms_per_1k_calls_p25']:.2f}–"
            f"{fit['ms_per_1k_calls_p75']:.2f}); least squares {fit['slope_ms_per_1k_calls']:.3f} ms per 1,000 "
            f"calls + {fit['intercept_ms']:.2f} ms, R² = {fit['r_squared']:.2f}.</p>")


def _prices_html(model: CostModel, changes: pl.DataFrame | None, label: str) -> str:
    """The first screen: what each step costs per execution and what we charge, and the change since last night."""
    by_change = {r["step_id"]: r for r in changes.iter_rows(named=True)} if changes is not None else {}
    tiers = {r["step_id"]: r for r in model.tiers.iter_rows(named=True)}
    rows = []
    for r in model.pricing.sort(["total_units", "step_id"], descending=[True, False], nulls_last=True).iter_rows(
            named=True):
        t = tiers.get(r["step_id"], {})
        units = "—" if r["total_units"] is None else f"{r['total_units']:,.0f}"
        rows.append(f"<tr><td>{escape(r['step_id'])}</td><td>{escape(r['step_type'] or '')}</td>"
                    f"<td class='num'><b>{units}</b></td><td>{escape(r.get('coverage') or r['status'])}</td>"
                    f"<td>{escape(r['tier'] or '—')}</td><td class='num'>{_num(t.get('cost_calls'))}</td>"
                    f"<td>{_change_text(by_change.get(r['step_id']))}</td></tr>")
    baseline = next((t["calls_platform_import"] for t in tiers.values() if t.get("calls_platform_import")), None)
    base = (f"<p>Platform baseline: <b>{baseline:,}</b> calls to import the modules every step imports, paid once "
            "per worker process (not in any step's price).</p>") if baseline else ""
    p = model.policy
    return (f"{_h2('prices')}<p>Units per execution, highest first. Cost per execution = warm execution + "
            f"{p.cold_start_rate:.0%} cold starts × (marginal import + cold extra), in calls.</p>{base}"
            "<table><thead><tr><th>step</th><th>action type</th><th>units</th><th>coverage</th><th>tier</th>"
            f"<th>cost per execution (calls)</th><th>{escape(label)}</th></tr></thead><tbody>"
            + "".join(rows) + "</tbody></table>")


def render_html(model: CostModel, generated_at: dt.datetime | None = None,
                user_code: pl.DataFrame | None = None, changes: pl.DataFrame | None = None,
                change_label: str = "since last night", usage: UsageTables | None = None) -> str:
    from wfprof_pipeline.lib.usage import report as usage_report  # it builds on this module's `table`

    usage = usage or usage_report.UsageTables()
    generated_at = generated_at or dt.datetime.now(dt.UTC)
    imgs = {name: svg.as_img(doc, name.replace("_", " ")) for name, doc in charts(model).items()}
    p = model.policy
    missing = "".join(f"<li>{escape(m)}</li>" for m in model.inputs.missing)
    unpriced = model.pricing.filter(pl.col("total_units").is_null())
    parts = [
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>",
        "<title>wfprof cost report</title>",
        f"<style>{_CSS}</style></head><body>",
        "<h1>wfprof cost report</h1>",
        f"<p class='muted'>Generated {generated_at:%Y-%m-%d %H:%M UTC}. Policy: units light/medium/heavy = "
        f"{p.units.light:g}/{p.units.medium:g}/{p.units.heavy:g}; I/O multipliers none/http/chat/chain read/"
        f"chain write = {p.io_multipliers.none:g}/{p.io_multipliers.http:g}/{p.io_multipliers.chat:g}/"
        f"{p.io_multipliers.chain_read:g}/{p.io_multipliers.chain_write:g}; tiers at "
        f"{p.tiers.medium_calls:,.0f} / {p.tiers.heavy_calls:,.0f} calls per execution "
        f"({escape(p.tiers.basis)}); cold-start rate {p.cold_start_rate:.0%}.</p>",
    ]
    parts += [_toc(), _prices_html(model, changes, change_label)]
    if missing:
        parts.append(f"<div class='warn'><b>Missing measurements</b><ul>{missing}</ul></div>")
    parts += [_coverage_html(model.pricing)]
    parts += [
        _h2("tiers"), imgs["calls_per_step"], _cpu_html(model),
        f"<p>Tiered on <b>{escape(p.tiers.basis)}</b> calls (import + execute). <i>own + packages</i> is the "
        "deterministic count (bit-identical run to run), shown beside it; Node's import-phase internals vary "
        "a little between runs, hence the margin column.</p>",
        table(model.tiers, [("step_id", "step", None), ("tier", "tier", None),
                            ("tier_calls", f"calls ({p.tiers.basis})", None),
                            ("calls_own_packages", "own + packages (deterministic)", None),
                            ("calls_execute_warm", "warm", None), ("calls_execute_cold", "cold", None),
                            ("calls_import_marginal", "marginal import", None),
                            ("boundary_margin", "margin to a threshold", _pct),
                            ("status", "status", None), ("note", "note", None)]),
        _h2("pricing"),
        "<p><code>total_units = base_units + io_multiplier × io_operations</code>; a chain-write step pays "
        "chain_write for its write requests and chain_read for the others.</p>",
        table(model.pricing, [("step_id", "step", None), ("step_type", "step type", None), ("tier", "tier", None),
                              ("base_units", "base", None), ("io_class", "I/O class", None),
                              ("io_multiplier", "multiplier", None), ("io_operations", "I/O ops", None),
                              ("total_units", "total", None), ("coverage", "coverage", None),
                              ("status", "status", None), ("note", "note", None)]),
    ]
    if unpriced.height:
        parts.append(f"<p class='bad'>{unpriced.height} step(s) not priced: "
                     f"{escape(', '.join(unpriced['step_id'].to_list()))}</p>")
    parts += [
        _h2("claims"), _claims_html(model.claims),
        _h2("fuel"), imgs["fuel_per_op"], _fuel_budgets_html(model),
        "<h3>User code in stored workflows</h3>", _user_code_html(user_code),
        usage_report.fuel_limit_html(usage.fuel_limits),
        _h2("static"), imgs["static_vs_runtime"],
        table(model.correlation, [("static_metric", "static", None), ("runtime_measure", "runtime", None),
                                  ("n", "n", None), ("rho", "ρ", lambda v: _num(v, 2)),
                                  ("p_value", "p", lambda v: "—" if v is None else f"{v:.3g}"),
                                  ("status", "status", None), ("note", "note", None)]),
        _h2("latency"), imgs["latency_by_action_type"],
        _h2("calls"), imgs["step_category_shares"], imgs["workflow_category_shares"],
        table(model.breakdown.filter(pl.col("scope").is_in(["steps", "workflows", "package"])),
              [("scope", "scope", None), ("subject", "subject", None), ("category", "category", None),
               ("calls", "calls", None), ("share", "share", _pct)]),
        _h2("priorities"), "<p>Ranked by estimated reduction.</p>",
        table(model.priorities, [("rank", "#", None), ("opportunity", "opportunity", None),
                                 ("measured_share", "share addressed", _pct),
                                 ("estimated_reduction", "est. reduction", _pct), ("impact", "impact", None),
                                 ("seed_impact", "seed said", None),
                                 ("seed_claim_holds", "seed holds", lambda v: _verdict(v)),
                                 ("basis", "how it was computed", None)]),
        _h2("workflows"), usage_report.workflows_html(usage.workflow_costs),
        _h2("customers"), usage_report.customers_html(usage.pricing_scenarios),
        "</body></html>",
    ]
    return "\n".join(parts)


def _coverage_html(pricing: pl.DataFrame) -> str:
    """Every discovered step, and whether it was priced: the counts first, then the steps that were not."""
    from wfprof_pipeline.lib.cost_model.tiers import COVERAGE

    if "coverage" not in pricing.columns or not pricing.height:
        return ""
    counts = dict(pricing.group_by("coverage").len().iter_rows())
    summary = ", ".join(f"<b>{counts[c]}</b> {c}" for c in COVERAGE if counts.get(c))
    rest = pricing.filter(pl.col("coverage") != "priced")
    html = f"{_h2('coverage')}<p>{pricing.height} steps: {summary}.</p>"
    if rest.height:
        html += table(rest, [("step_id", "step", None), ("step_type", "action type", None),
                             ("coverage", "coverage", None), ("note", "why", None)])
    return html


def write_report(model: CostModel, reports_dir: Path, generated_at: dt.datetime | None = None,
                 user_code: pl.DataFrame | None = None, *, path: Path | None = None,
                 changes: pl.DataFrame | None = None, change_label: str = "since last night",
                 usage: UsageTables | None = None) -> Path:
    path = path or reports_dir / REPORT_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(render_html(model, generated_at, user_code, changes, change_label, usage), encoding="utf-8")
    tmp.replace(path)  # readers never see a half-written report
    return path


def summary_markdown(model: CostModel) -> str:
    """Short markdown for the asset's Dagster metadata."""
    calls = {r["step_id"]: r for r in model.tiers.iter_rows(named=True)}
    lines = ["**Pricing**", "",
             f"| step | tier | calls ({model.policy.tiers.basis}) | own + packages (deterministic) | I/O class | "
             "I/O ops | units | coverage |", "|---|---|---|---|---|---|---|---|"]
    for r in model.pricing.iter_rows(named=True):
        t = calls.get(r["step_id"], {})
        lines.append(f"| {r['step_id']} | {r['tier'] or '—'} | {_num(t.get('tier_calls'))} | "
                     f"{_num(t.get('calls_own_packages'))} | {r['io_class'] or '—'} | "
                     f"{_num(r['io_operations'], 1)} | {_num(r['total_units'], 1)} | "
                     f"{r.get('coverage') or r['status']} |")
    lines += ["", "**The seed's claims**", "", "| claim | measured | verdict |", "|---|---|---|"]
    for c in model.claims:
        verdict = {True: "holds", False: "**does not hold**", None: "not measured"}[c.holds]
        lines.append(f"| {c.claim} | {c.measured} | {verdict} |")
    lines += ["", "**Top priorities**", ""]
    for r in model.priorities.head(3).iter_rows(named=True):
        lines.append(f"{r['rank']}. {r['opportunity']}: est. {_pct(r['estimated_reduction'])} ({r['impact']})")
    if model.inputs.missing:
        lines += ["", "**Missing measurements**", ""] + [f"- {m}" for m in model.inputs.missing]
    return "\n".join(lines)
