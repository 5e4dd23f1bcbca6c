"""`wfprof registry init`: write a starter step registry from what the checkout declares."""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("registry", help="the step registry: `init` writes a starter for every discovered step")
    verbs = p.add_subparsers(dest="verb", metavar="VERB")
    verbs.required = True
    init = verbs.add_parser("init", help="write a starter registry (module, export, action type, input, TODOs)")
    init.add_argument("--root", help="the checkout (default: $WFPROF_STEPS_ROOT or data/steps)")
    init.add_argument("--output", help="where to write it (default: <root>/registry.toml; - for stdout)")
    init.add_argument("--force", action="store_true", help="overwrite an existing file")
    init.set_defaults(handler=handle_init)


def handle_init(args: argparse.Namespace) -> int:
    import sys
    from pathlib import Path

    from wfprof_pipeline.lib.discovery.starter import starter_registry
    from wfprof_pipeline.lib.discovery.steps import discover_steps
    from wfprof_pipeline.lib.errors import UsageError
    from wfprof_pipeline.lib.registry import DEFAULT_REGISTRY_NAME
    from wfprof_pipeline.lib.settings import Settings

    root = Path(args.root) if args.root else Settings.from_env().steps_root
    if not root.is_dir():
        raise UsageError(f"checkout {root} does not exist (use --root or WFPROF_STEPS_ROOT)")
    discovery = discover_steps(root)
    if not discovery.steps:
        raise UsageError(f"no step files under {root} (plugins/*/steps/*, keeperhub/plugins/*/steps/*)")
    text = starter_registry(discovery)
    if args.output == "-":
        sys.stdout.write(text)
        return 0
    out = Path(args.output) if args.output else root / DEFAULT_REGISTRY_NAME
    if out.exists() and not args.force:
        raise UsageError(f"{out} exists: refusing to overwrite it (use --force, or --output elsewhere)")
    if not out.parent.is_dir():
        raise UsageError(f"cannot write {out}: folder {out.parent} does not exist")
    try:
        out.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise UsageError(f"cannot write {out}: {exc.strerror or exc}") from None
    todos = text.count("# TODO")
    print(f"wrote {out}: {len(discovery.steps)} steps ({len(discovery.helpers)} helper files folded in), "
          f"{todos} TODO(s) to check", file=sys.stderr)
    for warning in discovery.warnings:
        print(f"note: {warning}", file=sys.stderr)
    return 0
