"""Bad input yields a row and a clear flag, never a crash: syntax errors, empty and huge files, invalid UTF-8,
symlink loops, unreadable files, bad rules files."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from wfprof_pipeline.lib.corpus import discover
from wfprof_pipeline.lib.static.analyze import analyze_corpus, analyze_file
from wfprof_pipeline.lib.static.external_calls import ExternalCallRulesError, RuleSet, load_rules
from wfprof_pipeline_tests.static_helpers import analyze_text

WFPROF = Path(sys.executable).parent / "wfprof"


def _step(root: Path, plugin: str, name: str, content: bytes | str) -> Path:
    path = root / "plugins" / plugin / "steps" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(content, str):
        content = content.encode()
    path.write_bytes(content)
    return path


def test_syntax_error_is_flagged_with_partial_counts():
    source = """export async function f(x) {
  if (x) { await fetch(x); }
  const y = ;
  for (const z of x) { g(z) }
}
"""
    result = analyze_text(source)
    assert result.parse_error == "syntax error at line 3, column 11"
    m = result.metrics
    assert (m.details.ifs, m.details.for_loops, m.await_expressions, m.function_calls) == (1, 1, 1, 2)
    assert [(c.callee, c.kind) for c in result.external_calls] == [("fetch", "fetch")]
    assert [(f.name, f.cyclomatic_complexity) for f in result.functions] == [("Async function 'f'", 3)]


def test_garbage_file_is_flagged_not_fatal():
    result = analyze_text("}}}} ))) <<< function function (((")
    assert result.parse_error is not None and result.parse_error.startswith("syntax error at line 1")
    assert result.metrics.lines == 1


def test_empty_file():
    result = analyze_text("")
    assert result.parse_error is None
    assert result.metrics.lines == 1
    assert result.metrics.cyclomatic_complexity == 1
    assert result.functions == [] and result.external_calls == []


def test_five_megabyte_generated_file():
    block = """export async function handler{i}(input: {{ url?: string; retries?: number }}) {{
  const url = input.url ?? "https://example.test/{i}";
  for (let attempt = 0; attempt < (input.retries || 3); attempt++) {{
    try {{
      const res = await fetch(url);
      if (res.ok && res.status === 200) {{ return await res.json(); }}
    }} catch (err) {{
      console.warn(`attempt ${{attempt}} failed`, err);
    }}
  }}
  throw new Error(input.url ? "unreachable" : "no url");
}}
"""
    blocks: list[str] = []
    size = 0
    while size < 5 * 1024 * 1024:
        blocks.append(block.format(i=len(blocks)))
        size += len(blocks[-1])
    source, n = "".join(blocks), len(blocks)
    assert len(source) >= 5 * 1024 * 1024
    result = analyze_text(source)
    assert result.parse_error is None
    m = result.metrics
    # Per block: ?? + for + || + if + && + catch + ternary = CC 7; awaits 2; calls fetch, json, warn = 3.
    assert m.cyclomatic_complexity == 1 + 7 * n
    assert (m.await_expressions, m.function_calls, m.throw_statements, m.try_catch_blocks) == (2 * n, 3 * n, n, n)
    assert len(result.functions) == n
    assert {f.cyclomatic_complexity for f in result.functions} == {8}  # the same 7 decision points + 1
    assert len(result.external_calls) == n
    assert m.lines == source.count("\n") + 1


def test_invalid_utf8_is_decoded_like_node_and_flagged(tmp_path):
    path = _step(tmp_path, "p", "latin1.ts", b"const s = '\xe9t\xe9';\nexport const f = (a) => a ?? fetch(s);\n")
    (step,) = discover(tmp_path)
    result = analyze_file(step, RuleSet())
    assert result.parse_error == "invalid UTF-8 at line 1 (byte 11)"
    assert result.metrics.lines == 3
    assert result.metrics.details.nullish_coalescing == 1
    assert [(c.line, c.callee) for c in result.external_calls] == [(2, "fetch")]
    assert path.exists()


def test_bom_is_not_a_syntax_error():
    result = analyze_text("\ufeffexport function f(a) { return a || 1; }")
    assert result.parse_error is None
    assert result.metrics.cyclomatic_complexity == 2


@pytest.mark.timeout(30)
def test_symlink_loops_in_the_tree_terminate(tmp_path):
    _step(tmp_path, "real", "ok.ts", "export const f = (a) => a && 1;")
    steps = tmp_path / "plugins" / "real" / "steps"
    (steps / "self.ts").symlink_to("self.ts")  # a file symlink pointing at itself
    (steps / "dir.ts").symlink_to(".")  # a directory named like a step file
    (tmp_path / "plugins" / "loop").mkdir()
    (tmp_path / "plugins" / "loop" / "steps").symlink_to("..")  # plugins/loop/steps → plugins/loop
    (tmp_path / "plugins" / "up").symlink_to("..")  # plugins/up → the root
    results = analyze_corpus(tmp_path, RuleSet())
    assert [r.file for r in results] == ["plugins/real/steps/ok.ts"]
    # A recursive glob over the loops terminates too.
    results = analyze_corpus(tmp_path, RuleSet(), globs=["plugins/**/*.ts"])
    assert "plugins/real/steps/ok.ts" in [r.file for r in results]


def test_file_vanishing_after_discovery_is_flagged(tmp_path):
    path = _step(tmp_path, "p", "gone.ts", "export const x = 1;")
    (step,) = discover(tmp_path)
    path.unlink()
    result = analyze_file(step, RuleSet())
    assert result.parse_error == "unreadable: No such file or directory"
    assert result.metrics.cyclomatic_complexity == 1 and result.functions == []


def test_unreadable_file_gets_a_row_and_the_run_succeeds(tmp_path):
    _step(tmp_path, "p", "ok.ts", "export const f = (a) => a || 1;")
    _step(tmp_path, "p", "secret.ts", "export const g = 1;").chmod(0o000)
    command = [str(WFPROF), "analyze", "--root", str(tmp_path), "--json"]
    if os.geteuid() == 0:  # root reads anything: drop the capabilities that bypass file permissions
        if shutil.which("setpriv") is None:
            pytest.fail("running as root needs util-linux setpriv to make a file unreadable")
        command = ["setpriv", "--bounding-set=-dac_override,-dac_read_search", *command]
    proc = subprocess.run(command, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    files = {f["stepName"]: f for f in json.loads(proc.stdout)["plugins"]["p"]}
    assert files["secret"]["parseError"] == "unreadable: Permission denied"
    assert files["secret"]["cyclomaticComplexity"] == 1
    assert "parseError" not in files["ok"] and files["ok"]["cyclomaticComplexity"] == 2


def test_file_over_the_size_limit_is_reported_not_parsed(monkeypatch):
    from wfprof_pipeline.lib.static import analyze

    monkeypatch.setattr(analyze, "MAX_FILE_BYTES", 100)
    result = analyze.analyze_source(b"if (a) {}\n" * 20, "typescript", RuleSet())
    assert result.parse_error == "not analyzed: 200 bytes is over the 100-byte limit"
    assert result.metrics.lines == 21 and result.metrics.cyclomatic_complexity == 1


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "cannot read external-call rules"),
        ("{not json", "is not valid JSON"),
        ('["fetch"]', "expected an object with a 'rules' list"),
        ('{"rules": [{"pattern": "a.b"}]}', "rule 0 must be"),
        ('{"rules": [{"pattern": "a..b", "kind": "x"}]}', "bad external-call pattern 'a..b'"),
        ('{"rules": [], "includeDefaults": "yes"}', "'includeDefaults' must be true or false"),
    ],
)
def test_bad_rules_files_are_clear_errors(tmp_path, content, message):
    path = tmp_path / "rules.json"
    if content is not None:
        path.write_text(content)
    with pytest.raises(ExternalCallRulesError, match=message.replace("(", r"\(").replace("[", r"\[")):
        load_rules(path)


def test_custom_rules_come_first_and_can_replace_defaults(tmp_path):
    path = tmp_path / "rules.json"
    custom = [{"pattern": "api.*", "kind": "internal"}, {"pattern": "fetch", "kind": "x"}]
    path.write_text(json.dumps({"rules": custom}))
    rules = load_rules(path)
    assert rules.kind("api.users.list") == "internal"
    assert rules.kind("fetch") == "x"
    assert rules.kind("db.select") == "db"  # defaults still apply
    path.write_text(json.dumps({"rules": [{"pattern": "api.*", "kind": "internal"}], "includeDefaults": False}))
    assert load_rules(path).kind("db.select") is None


def test_rule_patterns_match_identifier_paths_not_substrings():
    rules = RuleSet()
    assert rules.kind("fetch") == "fetch"
    assert rules.kind("fetchCredentials") is None
    assert rules.kind("myfetch") is None
    assert rules.kind("db") is None  # `db.*` needs at least one more segment
    assert rules.kind("db.query.users.findMany") == "db"
    assert rules.kind("client.chat.postMessage") == "sdk"
    assert rules.kind("a.client.chat.postMessage") is None  # leading `*` is exactly one segment


def test_callee_paths_drop_optional_chaining_and_non_null():
    source = "db?.select(); signer!.sendTransaction(tx); (await getDb()).select(); db['select'](); fetch(u).then(f);"
    result = analyze_text(source)
    assert [(c.callee, c.kind) for c in result.external_calls] == [
        ("db.select", "db"), ("signer.sendTransaction", "web3"), ("fetch", "fetch")
    ]


@pytest.mark.parametrize(
    "source",
    ["function f(xs) { for (using x of xs) {} }", "async function f(xs) { for (await using x of xs) {} }",
     "class K { static accessor v = 1; }"],
)
def test_syntax_the_grammar_lacks_is_flagged_not_silently_miscounted(source):
    # Valid TypeScript that tree-sitter-typescript 0.23 cannot parse (README says so): the row must be flagged.
    assert analyze_text(source).parse_error is not None
