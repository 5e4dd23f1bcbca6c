"""External-call classification by import: named SDK helpers are classified by the package they come from."""

from __future__ import annotations

import json

import pytest

from wfprof_pipeline.lib.static.external_calls import ExternalCallRulesError, ImportRule, RuleSet, load_rules
from wfprof_pipeline_tests.static_helpers import analyze_text

SOURCE = """import { createPublicClient, http as transport, formatEther } from "viem";
import * as slack from "@slack/web-api";
import sgMail from "@sendgrid/mail";
import type { Address } from "viem";
import { helper } from "./local";
const { Resend } = require("resend");
const { select: pick } = require("drizzle-orm");
const axios = require("axios");
export async function run(address: Address) {
  const client = createPublicClient({ transport: transport("https://rpc.test") });
  const balance = await client.getBalance({ address });
  await new slack.WebClient("t").chat.postMessage({ channel: "c", text: formatEther(balance) });
  await sgMail.send({ to: "a@b.c" });
  await axios.post("https://x.test", { resend: new Resend("k") });
  pick();
  helper();
  const createPublicClientLater = () => 1;
  return createPublicClientLater();
}
"""


def test_calls_of_imported_sdk_names_are_classified_by_package():
    result = analyze_text(SOURCE)
    assert [(c.line, c.callee, c.kind) for c in result.external_calls] == [
        (10, "createPublicClient", "web3"),
        # viem's http() (here aliased `transport`) and formatEther are pure helpers, not I/O
        (11, "client.getBalance", "web3"),  # a path rule, not an import
        (13, "sgMail.send", "sdk"),  # default import
        (14, "axios.post", "http"),
        (15, "pick", "db"),  # renamed in a destructured require
    ]


def test_path_rules_win_over_import_rules():
    source = 'import { fetch } from "undici";\nfetch("u");\n'
    assert [(c.callee, c.kind) for c in analyze_text(source).external_calls] == [("fetch", "fetch")]


def test_custom_import_rules_from_the_rules_file(tmp_path):
    path = tmp_path / "rules.json"
    path.write_text(json.dumps({"rules": [], "imports": [{"module": "@acme/*", "kind": "acme"}]}))
    rules = load_rules(path)
    source = 'import { ping } from "@acme/client";\nimport { x } from "ethers";\nping(); x();\n'
    assert [(c.callee, c.kind) for c in analyze_text(source, rules=rules).external_calls] == [
        ("ping", "acme"), ("x", "web3")
    ]
    path.write_text(json.dumps({"rules": [], "imports": [{"module": "@acme/*", "kind": "acme"}],
                                "includeDefaults": False}))
    assert [c.kind for c in analyze_text(source, rules=load_rules(path)).external_calls] == ["acme"]


@pytest.mark.parametrize(
    ("imports", "message"),
    [
        ('"viem"', "'imports' must be a list"),
        ('[{"module": "viem"}]', "import rule 0 must be"),
        ('[{"module": "not a package", "kind": "x"}]', "bad module pattern 'not a package'"),
    ],
)
def test_bad_import_rules_are_clear_errors(tmp_path, imports, message):
    path = tmp_path / "rules.json"
    path.write_text(f'{{"rules": [], "imports": {imports}}}')
    with pytest.raises(ExternalCallRulesError, match=message):
        load_rules(path)


def test_module_prefix_patterns():
    rules = RuleSet(rules=[], imports=[ImportRule("@slack/*", "sdk"), ImportRule("viem", "web3")])
    assert rules.import_kind("@slack/web-api") == "sdk"
    assert rules.import_kind("@slackers/x") is None
    assert rules.import_kind("viem") == "web3"
    assert rules.import_kind("viem/chains") is None


def test_pure_helpers_are_not_io():
    """drizzle's condition builders, ethers/viem formatting and viem's transport factory build values, they
    make no request: the awaited query chain is the one database call."""
    source = """import { and, eq as equals, inArray } from "drizzle-orm";
import { ethers, formatUnits } from "ethers";
import { http, createPublicClient } from "viem";
import { db } from "@/lib/db";
export async function run(ids: string[]) {
  const rows = await db.select().from(t).where(and(equals(t.a, 1), inArray(t.id, ids)));
  const c = createPublicClient({ transport: http("https://rpc.test") });
  return [ethers.formatEther(1n), formatUnits(2n, 6), ethers.parseUnits("1", 6), rows, c];
}
"""
    assert [(c.callee, c.kind) for c in analyze_text(source).external_calls] == [
        ("db.select", "db"), ("createPublicClient", "web3")
    ]


def test_the_rules_file_marks_names_pure(tmp_path):
    path = tmp_path / "rules.json"
    path.write_text(json.dumps({"rules": [{"pattern": "money.*", "kind": "http"}], "pure": ["money.format"],
                                "imports": [{"module": "@acme/util", "names": ["slugify"], "kind": "pure"},
                                            {"module": "@acme/*", "kind": "acme"}]}))
    source = ('import { slugify, ping } from "@acme/util";\ndeclare const money: any;\n'
              'slugify("x"); ping(); money.format(1); money.send(1);\n')
    assert [(c.callee, c.kind) for c in analyze_text(source, rules=load_rules(path)).external_calls] == [
        ("ping", "acme"), ("money.send", "http")
    ]
    path.write_text(json.dumps({"rules": [], "pure": "money.format"}))
    with pytest.raises(ExternalCallRulesError, match="'pure' must be a list"):
        load_rules(path)
