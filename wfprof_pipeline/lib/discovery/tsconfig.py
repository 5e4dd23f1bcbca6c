"""Path aliases from a checkout's `tsconfig.json` (`compilerOptions.paths`, following `extends` and `baseUrl`),
as the TypeScript compiler reads them, so esbuild resolves `@/…` imports the way the app's build does."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from wfprof_pipeline.lib.errors import WfprofError


class TsconfigError(WfprofError, ValueError):
    """A tsconfig that cannot be read (bad JSON, an `extends` cycle, a missing base)."""


@dataclass
class Aliases:
    # pattern ("@/*") -> targets relative to the checkout root ("*", "src/*"), in the tsconfig's order
    paths: dict[str, list[str]] = field(default_factory=dict)
    source: str | None = None  # the tsconfig file that declared them (relative to the root)
    warnings: list[str] = field(default_factory=list)


_COMMENT = re.compile(r'"(?:\\.|[^"\\])*"|//[^\n]*|/\*.*?\*/', re.S)
_TRAILING_COMMA = re.compile(r'"(?:\\.|[^"\\])*"|,(\s*[}\]])', re.S)


def parse_jsonc(text: str) -> object:
    """tsconfig files are JSON with comments and trailing commas."""
    text = _COMMENT.sub(lambda m: m.group(0) if m.group(0).startswith('"') else "", text)
    text = _TRAILING_COMMA.sub(lambda m: m.group(1) if m.group(1) is not None else m.group(0), text)
    return json.loads(text)


def _resolve_extends(spec: str, config: Path, root: Path) -> Path:
    if spec.startswith((".", "/")):
        base = (config.parent / spec).resolve()
        candidates = [base, base.with_name(base.name + ".json"), base / "tsconfig.json"]
    else:  # a package: node_modules/<spec>(.json | /tsconfig.json), looked up from the config upwards
        candidates = []
        for folder in [config.parent, *config.parent.parents]:
            base = folder / "node_modules" / spec
            candidates += [base, base.with_name(base.name + ".json"), base / "tsconfig.json"]
            if folder == root.parent:
                break
    for c in candidates:
        if c.is_file():
            return c
    raise TsconfigError(f"{config.name}: extends {spec!r}, which was not found")


def _load_chain(config: Path, root: Path, seen: list[Path]) -> tuple[dict, Path | None, Path | None]:
    """(merged compilerOptions.paths, folder paths are relative to, baseUrl folder) for one config."""
    if config in seen:
        cycle = " -> ".join(p.name for p in [*seen, config])
        raise TsconfigError(f"tsconfig extends cycle: {cycle}")
    try:
        data = parse_jsonc(config.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise TsconfigError(f"cannot read {config}: {exc}") from None
    except json.JSONDecodeError as exc:
        raise TsconfigError(f"{config} is not valid JSON: {exc}") from None
    if not isinstance(data, dict):
        raise TsconfigError(f"{config} does not hold a JSON object")
    paths: dict = {}
    paths_dir: Path | None = None
    base_url: Path | None = None
    extends = data.get("extends")
    bases = [extends] if isinstance(extends, str) else extends if isinstance(extends, list) else []
    for spec in bases:  # later bases override earlier ones, the config itself overrides them all
        if not isinstance(spec, str):
            continue
        p, pd, bu = _load_chain(_resolve_extends(spec, config, root), root, [*seen, config])
        if p:
            paths, paths_dir = p, pd
        if bu is not None:
            base_url = bu
    options = data.get("compilerOptions") or {}
    if isinstance(options.get("baseUrl"), str):
        base_url = (config.parent / options["baseUrl"]).resolve()
    if isinstance(options.get("paths"), dict):
        paths, paths_dir = options["paths"], config.parent.resolve()
    return paths, paths_dir, base_url


def load_aliases(root: Path | str, name: str = "tsconfig.json") -> Aliases:
    """The checkout's aliases; a missing tsconfig gives none (with a warning), a broken one raises."""
    root = Path(root).resolve()
    config = root / name
    if not config.is_file():
        return Aliases(warnings=[f"no {name} at the checkout root: no path aliases (imports such as '@/…' "
                                 "will not resolve unless the registry gives [aliases])"])
    paths, paths_dir, base_url = _load_chain(config, root, [])
    # Paths are relative to baseUrl when one is set, else to the config that declared them (TS ≥ 4.1).
    anchor = base_url or paths_dir or root
    out = Aliases(source=name)
    for pattern, targets in paths.items():
        if not isinstance(targets, list):
            continue
        rels = []
        for target in targets:
            if not isinstance(target, str):
                continue
            absolute = (anchor / target).resolve() if "*" not in target else \
                Path(str((anchor / target.replace("*", "__star__")).resolve()).replace("__star__", "*"))
            try:
                rels.append(PurePosixPath(absolute.relative_to(root)).as_posix())
            except ValueError:
                out.warnings.append(f"alias {pattern!r} points outside the checkout ({target}); ignored")
        if rels:
            out.paths[pattern] = ["*" if r == "." else r for r in rels]
    return out
