"""`wfprof gate --base-ref`: real git repositories built from the sample corpus, real Node processes.

Each test builds a small repository from a copy of `data/steps` (node_modules symlinked, as `--base-ref`
itself reuses it), commits a change and gates it against the commit before. Only two steps are profiled
(`--steps`), so a gate takes a few seconds.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path

from wfprof_pipeline.cli import main
from wfprof_pipeline_tests.dagster_env import BIN, PROJECT_ROOT

SAMPLE = PROJECT_ROOT / "data" / "steps"
STEPS = "webhook/send-webhook,discord/send-message"
WEBHOOK = "plugins/webhook/steps/send-webhook.ts"
DISCORD = "plugins/discord/steps/send-message.ts"


def git(repo: Path, *args: str) -> str:
    proc = subprocess.run(["git", "-c", "user.email=gate@test", "-c", "user.name=gate", *args], cwd=repo,
                          capture_output=True, text=True, check=True)
    return proc.stdout.strip()


def make_repo(where: Path) -> Path:
    repo = where / "repo"
    shutil.copytree(SAMPLE, repo, ignore=shutil.ignore_patterns("node_modules"))
    (repo / "node_modules").symlink_to(SAMPLE / "node_modules")
    (repo / ".gitignore").write_text("node_modules\n")
    git(repo, "init", "-q", "-b", "main")
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "base")
    return repo


def edit(repo: Path, rel: str, old: str, new: str, *, append: str = "") -> None:
    path = repo / rel
    text = path.read_text()
    assert old in text, f"{old!r} not in {rel}"
    path.write_text(text.replace(old, new, 1) + append)


def commit(repo: Path, message: str) -> None:
    git(repo, "commit", "-qam", message)


def import_ethers(repo: Path) -> None:
    # Used, so esbuild keeps the import (TypeScript elides unused ones).
    edit(repo, WEBHOOK, 'import "server-only";\n', 'import "server-only";\n\nimport { ethers } from "ethers";\n',
         append="\nexport const _ethersVersion = ethers.version;\n")


def one_more_own_call(repo: Path) -> None:
    # Discord's own + package calls are 14: one more own call is +7 % (over the 2 % soft, under the 10 % hard).
    edit(repo, DISCORD, "async function stepHandler(", "function touch(): number {\n  return 1;\n}\n\n"
         "async function stepHandler(")
    head = "Promise<SendDiscordMessageResult> {\n"
    edit(repo, DISCORD, head + "  let", head + "  touch();\n  let")


def gate(repo: Path, *extra: str, capsys=None) -> tuple[int, str]:
    code = main(["gate", "--root", str(repo), "--steps", STEPS, "--sections", "static,steps", *extra])
    out = capsys.readouterr() if capsys else None
    return code, (out.out if out else "")


def parse_junit(path: Path) -> ET.Element:
    """A JUnit document's shape, as JUnit consumers (Jenkins, GitHub test reporters) read it."""
    root = ET.parse(path).getroot()
    assert root.tag == "testsuites"
    totals = {k: 0 for k in ("tests", "failures", "errors", "skipped")}
    for suite in root:
        assert suite.tag == "testsuite" and suite.get("name")
        cases = list(suite)
        assert all(c.tag == "testcase" and c.get("classname") and c.get("name") for c in cases)
        counts = {
            "tests": len(cases),
            "failures": sum(1 for c in cases if c.find("failure") is not None),
            "errors": sum(1 for c in cases if c.find("error") is not None),
            "skipped": sum(1 for c in cases if c.find("skipped") is not None),
        }
        for key, value in counts.items():
            assert int(suite.get(key)) == value, (suite.get("name"), key)
            totals[key] += value
        for failure in suite.iter("failure"):
            assert failure.get("message") and failure.get("type") in ("hard_limit", "soft_limit")
    for key, value in totals.items():
        assert int(root.get(key)) == value, key
    return root


def test_a_heavy_import_fails_the_gate_and_names_step_package_and_delta(tmp_path: Path) -> None:
    repo = make_repo(tmp_path)
    import_ethers(repo)
    commit(repo, "webhook imports ethers")
    summary = tmp_path / "step-summary.md"
    summary.write_text("earlier step output\n")
    env = {**os.environ, "GITHUB_STEP_SUMMARY": str(summary)}
    proc = subprocess.run(
        [str(BIN / "wfprof"), "gate", "--base-ref", "HEAD~1", "--root", str(repo), "--steps", STEPS,
         "--sections", "static,steps", "--json", "--junit", str(tmp_path / "gate.xml"),
         "--markdown", str(tmp_path / "gate.md")],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300,
    )
    assert proc.returncode == 1, proc.stdout[-2000:] + proc.stderr[-2000:]
    result = json.loads(proc.stdout)
    (calls,) = [f for f in result["findings"] if f["subject"] == "webhook/send-webhook" and f["measure"] == "calls"]
    assert calls["level"] == "hard" and calls["before"] == 9 and calls["after"] > 3000
    delta = int(calls["delta"])
    (ethers,) = [c for c in result["package_changes"]
                 if c["step"] == "webhook/send-webhook" and c["package"] == "ethers"]
    assert ethers["phase"] == "import" and ethers["before"] == 0 and ethers["after"] > 0
    markdown = (tmp_path / "gate.md").read_text()
    assert "hard limit exceeded (exit 1)" in markdown
    assert f"| `webhook/send-webhook` | calls | 9 | {int(calls['after']):,} | +{delta:,} |" in markdown
    assert f"**ethers** +{ethers['after']:,} (import 0 → {ethers['after']:,})" in markdown
    assert f"source modified: `{WEBHOOK}`" in markdown
    assert "node_modules of the base tree: linked" in markdown
    # Tiers are absolute calls per execution: a few thousand own + package calls more is still light.
    assert "tier light →" not in markdown
    assert summary.read_text() == "earlier step output\n" + markdown  # appended to the step summary
    # JUnit: one testcase per step and measure, failures = exceeded limits.
    root = parse_junit(tmp_path / "gate.xml")
    exceeded = [f for f in result["findings"] if f["level"] in ("hard", "soft")]
    assert int(root.get("failures")) == len(exceeded) == result["exceeded"] >= 1  # calls (the tier holds)
    steps_suite = next(s for s in root if s.get("name") == "wfprof gate: steps")
    names = {(c.get("classname"), c.get("name")) for c in steps_suite}
    assert names == {(s, m) for s in STEPS.split(",") for m in ("calls", "units", "io")}
    # Nothing is left behind: the temporary worktree is gone.
    assert git(repo, "worktree", "list").count("\n") == 0


def test_a_comment_only_edit_is_no_change(tmp_path: Path, capsys) -> None:
    repo = make_repo(tmp_path)
    edit(repo, WEBHOOK, "async function stepHandler(", "// Retries are the platform's job, not the step's.\n"
         "async function stepHandler(")
    commit(repo, "comment")
    code, out = gate(repo, "--base-ref", "HEAD~1", capsys=capsys)
    assert code == 0, out
    assert "**No change** in any measure (2 steps, 11 files compared)." in out
    assert f"source modified: `{WEBHOOK}`" in out


def test_a_small_change_over_the_soft_limit_warns(tmp_path: Path, capsys) -> None:
    repo = make_repo(tmp_path)
    one_more_own_call(repo)
    commit(repo, "one more call")
    code, out = gate(repo, "--base-ref", "HEAD~1", "--junit", str(tmp_path / "j.xml"), capsys=capsys)
    assert code == 3, out
    assert "| `discord/send-message` | calls | 14 | 15 | +1 | +7.1 % | warn (soft +2%) |" in out
    assert "**(own code)** +1 (execute" in out
    assert int(parse_junit(tmp_path / "j.xml").get("failures")) == 1
    # The same change under a looser soft limit passes; under a stricter hard limit it fails.
    assert gate(repo, "--base-ref", "HEAD~1", "--warn-increase", "calls=8%", capsys=capsys)[0] == 0
    assert gate(repo, "--base-ref", "HEAD~1", "--max-increase", "calls=5%", capsys=capsys)[0] == 1


def test_a_dirty_tree_is_measured_as_it_is_and_said_so(tmp_path: Path, capsys) -> None:
    repo = make_repo(tmp_path)
    one_more_own_call(repo)  # not committed
    code, out = gate(repo, "--base-ref", "HEAD", capsys=capsys)
    assert code == 3, out
    assert f"Head: working tree — uncommitted changes, measured as they are (1 file: {DISCORD})" in out
    assert "| `discord/send-message` | calls | 14 | 15 |" in out


def test_a_step_that_fails_to_profile_has_its_own_exit_code(tmp_path: Path, capsys) -> None:
    repo = make_repo(tmp_path)
    edit(repo, WEBHOOK, 'import "server-only";\n',
         'import "server-only";\nimport { nothing } from "no-such-package";\n', append="\nexport const _n = nothing;\n")
    commit(repo, "broken import")
    code, out = gate(repo, "--base-ref", "HEAD~1", "--junit", str(tmp_path / "j.xml"), capsys=capsys)
    assert code == 4, out
    assert "a step failed to profile (exit 4)" in out
    assert "- `webhook/send-webhook` on the head side:" in out and "no-such-package" in out
    errors = parse_junit(tmp_path / "j.xml").findall(".//testcase/error")
    assert len(errors) == 1 and errors[0].get("type") == "profile_failed"


def test_a_changed_lockfile_installs_the_base_tree(tmp_path: Path, capsys) -> None:
    # A corpus with one plain-JS step and a local package, so `npm ci` needs no network.
    repo = tmp_path / "repo"
    (repo / "plugins" / "p" / "steps").mkdir(parents=True)
    (repo / "vendor" / "tiny").mkdir(parents=True)
    (repo / "vendor" / "tiny" / "package.json").write_text('{"name": "tiny", "version": "1.0.0", "main": "i.js"}')
    (repo / "vendor" / "tiny" / "i.js").write_text("exports.twice = (x) => x * 2;\n")
    (repo / "plugins" / "p" / "steps" / "s.mjs").write_text("export async function s() { return 1; }\n")
    (repo / "registry.toml").write_text('[steps."p/s"]\nmodule = "plugins/p/steps/s.mjs"\nexport = "s"\n'
                                        'action_type = "p/s"\n')
    (repo / "package.json").write_text('{"name": "c", "version": "1.0.0", "private": true}\n')
    (repo / ".gitignore").write_text("node_modules\n")
    subprocess.run(["npm", "install", "--no-audit", "--no-fund", "--loglevel=error"], cwd=repo, check=True,
                   capture_output=True)
    git(repo, "init", "-q", "-b", "main")
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "base")
    # A tarball installs as a copy under node_modules/ (a file: folder would be a symlink: own code).
    subprocess.run(["npm", "pack", "--pack-destination", str(tmp_path)], cwd=repo / "vendor" / "tiny", check=True,
                   capture_output=True)
    subprocess.run(["npm", "install", "--no-audit", "--no-fund", "--loglevel=error", str(tmp_path / "tiny-1.0.0.tgz")],
                   cwd=repo, check=True, capture_output=True)
    (repo / "plugins" / "p" / "steps" / "s.mjs").write_text(
        'import { twice } from "tiny";\nexport async function s() { return twice(1); }\n')
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "uses tiny")
    code = main(["gate", "--base-ref", "HEAD~1", "--root", str(repo), "--sections", "steps", "--json"])
    result = json.loads(capsys.readouterr().out)
    assert "node_modules of the base tree: installed (npm ci)" in result["notes"]
    assert result["source_changes"]["lockfile_changed"]
    assert {"package": "tiny", "before": None, "after": "1.0.0"} in result["dependency_changes"]
    tiny = {c["phase"]: (c["before"], c["after"]) for c in result["package_changes"] if c["package"] == "tiny"}
    assert tiny["execute"] == (0, 1)  # twice(1)
    assert code == 1  # a call into a package that was not there: +∞ %
