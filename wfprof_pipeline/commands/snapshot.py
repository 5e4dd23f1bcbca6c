"""`wfprof snapshot [--output FILE]`: every deterministic measure of the tree as one versioned JSON
document (the baseline `wfprof gate` compares against). Schema: README, "Snapshot schema"."""

from __future__ import annotations

import argparse

SECTIONS_HELP = "comma-separated: static, steps, fuel, user_code (default: all; user_code needs DATABASE_URL)"


def add_tree_arguments(p: argparse.ArgumentParser) -> None:
    """Options shared with `wfprof gate`: which tree, which steps, which measures."""
    p.add_argument("--root", help="step corpus root (default: $WFPROF_STEPS_ROOT or data/steps)")
    p.add_argument("--registry", help="step registry TOML (default: $WFPROF_STEP_REGISTRY or <root>/registry.toml)")
    p.add_argument("--policy", help="pricing policy TOML/JSON (default: $WFPROF_PRICING_POLICY or the seed's)")
    p.add_argument("--steps", metavar="A,B", help="only these step ids (default: every registered step)")
    p.add_argument("--sections", help=SECTIONS_HELP)
    p.add_argument("--rules", help="external-call rules JSON (default: $WFPROF_EXTERNAL_CALL_RULES or built-in)")
    p.add_argument("--timeout", type=float, default=60.0, help="seconds per step process (default 60)")
    p.add_argument("--jobs", type=int, default=0, help="parallel step processes (default: cores)")


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "snapshot",
        help="write every deterministic measure of the tree as one versioned JSON document (a gate baseline)",
        description="Own + package calls per step and phase (V8 precise coverage), I/O requests, tier and units "
        "under the policy, source and lockfile digests, per-file and per-function complexity, fuel per "
        "calibration workload and (with DATABASE_URL) per stored code node. No timings.",
    )
    p.add_argument("--output", "-o", metavar="FILE", help="write the document to FILE (default: stdout)")
    add_tree_arguments(p)
    p.set_defaults(handler=handle)


def snapshot_options(args: argparse.Namespace, *, need_root: bool = True):  # -> (root, SnapshotOptions, policy)
    from pathlib import Path

    from wfprof_pipeline.cli import CliError
    from wfprof_pipeline.lib.cost_model.policy import load_policy
    from wfprof_pipeline.lib.gate.models import SECTIONS
    from wfprof_pipeline.lib.gate.snapshot import SnapshotOptions
    from wfprof_pipeline.lib.settings import Settings

    settings = Settings.from_env()
    root = Path(args.root) if args.root else settings.steps_root
    if need_root and not root.is_dir():
        raise CliError(f"step corpus root {root} does not exist (use --root or WFPROF_STEPS_ROOT)")
    sections = tuple(SECTIONS)
    if args.sections:
        sections = tuple(s.strip().replace("-", "_") for s in args.sections.split(",") if s.strip())
        unknown = [s for s in sections if s not in SECTIONS]
        if unknown or not sections:
            raise CliError(f"--sections: unknown {', '.join(unknown) or '(empty)'}; sections: {', '.join(SECTIONS)}")
    steps = None
    if args.steps:
        steps = list(dict.fromkeys(s.strip() for s in args.steps.split(",") if s.strip()))
        if not steps:
            raise CliError("--steps needs at least one step id")
    if args.timeout <= 0 or args.jobs < 0:
        raise CliError("--timeout must be positive and --jobs at least 0")
    rules = Path(args.rules) if args.rules else settings.external_call_rules
    options = SnapshotOptions(sections=sections, steps=steps, rules_file=rules, node=settings.node,
                              timeout_s=args.timeout, jobs=args.jobs or None, database_url=settings.database_url)
    return root, options, load_policy(args.policy)


def step_count(root, args: argparse.Namespace, options) -> int:  # noqa: ANN001
    """How many steps will be profiled; unknown --steps ids fail here, before anything is measured."""
    if "steps" not in options.sections:
        return 0
    from wfprof_pipeline.lib.registry import load_for_root

    return len(load_for_root(root, args.registry).select(options.steps))


def handle(args: argparse.Namespace) -> int:
    import sys
    from pathlib import Path

    from wfprof_pipeline.cli import CliError
    from wfprof_pipeline.lib.gate import models
    from wfprof_pipeline.lib.gate.snapshot import build_snapshot
    from wfprof_pipeline.lib.progress import Progress

    root, options, policy = snapshot_options(args)
    out = Path(args.output) if args.output else None
    if out is not None:
        try:
            out.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise CliError(f"cannot write {out}: {exc.strerror or exc}") from None
    with Progress("snapshot", step_count(root, args, options)) as progress:
        snap = build_snapshot(root, args.registry, policy, options,
                              on_result=lambda r: progress.finished(r.step_id))
    text = models.dump(snap)
    if out is None:
        sys.stdout.write(text)
    else:
        try:
            out.write_text(text, encoding="utf-8")
        except OSError as exc:
            raise CliError(f"cannot write {out}: {exc.strerror or exc}") from None
        failed = sorted(s for s, v in snap.steps.items() if v.status == "failed")
        print(f"snapshot written to {out}: {len(snap.steps)} steps, {len(snap.files)} files, sections "
              f"{', '.join(snap.sections)}" + (f"; FAILED to profile: {', '.join(failed)}" if failed else ""),
              file=sys.stderr)
    return 4 if any(v.status == "failed" for v in snap.steps.values()) else 0
