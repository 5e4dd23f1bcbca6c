"""The gate's outputs: a Markdown summary (GitHub step summary / PR comment), JUnit XML, JSON."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET

from wfprof_pipeline.lib.gate.compare import Finding, GateResult

VERDICTS = {
    "pass": "passed",
    "warn": "soft limit exceeded (warning)",
    "fail": "hard limit exceeded",
    "profile_failed": "a step failed to profile",
}
KIND_LABELS = {"step": "step", "file": "file", "workload": "fuel workload", "code_node": "code node"}


def _num(v: float | None) -> str:
    if v is None:
        return "–"
    return f"{v:,.0f}" if float(v).is_integer() else f"{v:,.2f}"


def _delta(f: Finding) -> str:
    if f.delta is None:
        return "–"
    sign = "+" if f.delta > 0 else ""
    return f"{sign}{_num(f.delta)}"


def _pct(f: Finding) -> str:
    if f.delta is None:
        return "–"
    if f.delta_pct is None:
        return "new" if f.delta else "0 %"
    return f"{f.delta_pct:+,.1f} %"


def _result(f: Finding) -> str:
    return {"hard": f"**FAIL** ({f.limit})", "soft": f"warn ({f.limit})", "improved": "improved",
            "changed": "within limits"}.get(f.level, "")


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def markdown(r: GateResult) -> str:
    out = [f"## wfprof cost gate: {VERDICTS[r.verdict]} (exit {r.exit_code})", ""]
    out.append(f"Base: {r.base_label} · Head: {r.head_label}")
    out.append("")
    out.append(f"Limits — {r.limits.describe()}")
    for note in r.notes:
        out += ["", f"> {note}"]
    out.append("")
    changed = r.changed
    compared = {k: len({f.subject for f in r.findings if f.kind == k}) for k in KIND_LABELS}
    summary = ", ".join(f"{n} {KIND_LABELS[k]}{'s' if n != 1 else ''}" for k, n in compared.items() if n)
    if not changed and not r.failures:
        out.append(f"**No change** in any measure ({summary or 'nothing'} compared).")
    elif changed:
        out += ["### Changed", "", "| subject | measure | before | after | Δ | Δ % | result | detail |",
                "|---|---|---:|---:|---:|---:|---|---|"]
        order = {"hard": 0, "soft": 1, "changed": 2, "improved": 3}
        for f in sorted(changed, key=lambda f: (order.get(f.level, 9), f.kind, f.subject, f.measure)):
            out.append(f"| `{_cell(f.subject)}` | {f.measure} | {_num(f.before)} | {_num(f.after)} | {_delta(f)} | "
                       f"{_pct(f)} | {_result(f)} | {_cell(f.detail or '')} |")
        out += ["", f"{len(changed)} change(s), {len(r.exceeded)} over a limit; {summary} compared."]
    else:
        out.append(f"No change in the measures that could be compared ({summary or 'nothing'}).")
    if r.failures:
        out += ["", "### Failed to profile (measures unknown: not passed)", ""]
        out += [f"- `{x.step}` on the {x.side} side: {_cell(x.error)[:300]}" for x in r.failures]
    for title, groups in (("New (not compared)", r.new), ("Removed (not compared)", r.removed)):
        if groups:
            out += ["", f"### {title}", ""]
            for kind, subjects in groups.items():
                out.append(f"- {KIND_LABELS[kind]}s: " + ", ".join(f"`{s}`" for s in subjects))
    out += ["", "### What changed in source and dependencies", ""]
    sc = r.source_changes
    if not sc.any:
        out.append("- source and lockfile: unchanged")
    for label, files in (("modified", sc.modified), ("added", sc.added), ("removed", sc.removed)):
        if files:
            shown = ", ".join(f"`{f}`" for f in files[:20]) + (f" … {len(files) - 20} more" if len(files) > 20 else "")
            out.append(f"- source {label}: {shown}")
    if sc.lockfile_changed:
        deps = r.dependency_changes
        detail = "; ".join(f"{d.package} {d.before or '(none)'} → {d.after or '(none)'}" for d in deps[:20])
        out.append(f"- lockfile changed{': ' + detail if detail else ''}")
    if r.package_changes:
        out.append("- calls by package (own + package calls per phase):")
        by_step: dict[str, list[str]] = {}
        for c in r.package_changes:
            by_step.setdefault(c.step, []).append(
                f"**{c.package}** {c.delta:+,} ({c.phase} {c.before:,} → {c.after:,})")
        for step, parts in by_step.items():
            out.append(f"  - `{step}`: " + ", ".join(parts[:8]) + (" …" if len(parts) > 8 else ""))
    return "\n".join(out) + "\n"


def junit(r: GateResult) -> str:
    """One testcase per subject and measure (classname = subject, name = measure); a testcase over a
    limit has one <failure> (the hard one if both), a step that failed to profile one <error>, a new or
    removed step is <skipped>."""
    suites = ET.Element("testsuites", name="wfprof gate")
    totals = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
    by_kind: dict[str, list[ET.Element]] = {k: [] for k in KIND_LABELS}
    for f in r.findings:
        case = ET.Element("testcase", classname=f.subject, name=f.measure, time="0")
        if f.level in ("hard", "soft"):
            message = (f"{f.measure} {_num(f.before)} → {_num(f.after)} ({_delta(f)}, {_pct(f)}) exceeds the "
                       f"{f.limit} limit")
            failure = ET.SubElement(case, "failure", message=message, type=f"{f.level}_limit")
            failure.text = message + (f"\n{f.detail}" if f.detail else "")
        elif f.level != "same":
            ET.SubElement(case, "system-out").text = f"{_num(f.before)} → {_num(f.after)} ({_delta(f)})"
        by_kind[f.kind].append(case)
    for x in r.failures:
        case = ET.Element("testcase", classname=x.step, name=f"profile ({x.side})", time="0")
        error = ET.SubElement(case, "error", message=f"failed to profile on the {x.side} side", type="profile_failed")
        error.text = x.error
        by_kind["step"].append(case)
    for label, groups in (("new", r.new), ("removed", r.removed)):
        for kind, subjects in groups.items():
            for s in subjects:
                case = ET.Element("testcase", classname=s, name=label, time="0")
                ET.SubElement(case, "skipped", message=f"{label} {KIND_LABELS[kind]}: not compared")
                by_kind[kind].append(case)
    for kind, cases in by_kind.items():
        if not cases:
            continue
        counts = {
            "tests": len(cases),
            "failures": sum(1 for c in cases if c.find("failure") is not None),
            "errors": sum(1 for c in cases if c.find("error") is not None),
            "skipped": sum(1 for c in cases if c.find("skipped") is not None),
        }
        suite = ET.SubElement(suites, "testsuite", name=f"wfprof gate: {KIND_LABELS[kind]}s", time="0",
                              **{k: str(v) for k, v in counts.items()})
        suite.extend(cases)
        for k, v in counts.items():
            totals[k] += v
    for k, v in totals.items():
        suites.set(k, str(v))
    ET.indent(suites)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(suites, encoding="unicode") + "\n"


def as_json(r: GateResult) -> str:
    data = r.model_dump(mode="json")
    data["changed"] = len(r.changed)
    data["exceeded"] = len(r.exceeded)
    return json.dumps(data, indent=2, sort_keys=True) + "\n"
