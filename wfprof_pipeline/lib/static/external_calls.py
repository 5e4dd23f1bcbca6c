"""External calls: every call whose callee is a plain identifier path (`fetch`, `db.select`, `signer.sendTransaction`)
classified by ordered, configurable rules.

Rules match the callee's *identifier path*, never substrings: `fetchCredentials(...)` is not `fetch`, and in
`fetch(url).finally(...)` only the inner call has an identifier path, so the chain is one fetch (likewise a
Drizzle chain `db.select().from(t).where(...)` is one `db.select`). `?.` and `!` are dropped from the path.

Pattern syntax: dot-separated segments; `*` matches one segment, except as the last segment, where it matches
one or more (`db.*` matches `db.select` and `db.query.users.findMany`, not `db` itself). First match wins.
Rules file (JSON): `{"rules": [{"pattern": "myApi.*", "kind": "http"}], "includeDefaults": true}`; its rules
are tried before the defaults unless `includeDefaults` is false.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

import tree_sitter as ts


class ExternalCallRulesError(ValueError):
    """The external-call rules file is missing, not JSON, or not of the documented shape."""


@dataclass(frozen=True)
class Rule:
    pattern: str
    kind: str


@dataclass(frozen=True)
class ExternalCall:
    line: int  # 1-based
    callee: str  # identifier path, e.g. "db.select"
    kind: str


def _rules(kind: str, *patterns: str) -> list[Rule]:
    return [Rule(p, kind) for p in patterns]


DEFAULT_RULES: tuple[Rule, ...] = tuple(
    _rules("fetch", "fetch", "globalThis.fetch", "window.fetch", "self.fetch", "undici.fetch", "ofetch")
    + _rules("http", "axios", "axios.*", "got", "got.*", "ky", "ky.*", "superagent.*", "undici.request",
             "http.request", "http.get", "https.request", "https.get")
    + _rules("db", "db.*", "this.db.*", "prisma.*", "pool.query", "pool.connect", "redis.*")
    + _rules("web3", "ethers.*", "signer.*", "wallet.*", "provider.*", "contract.*", "publicClient.*",
             "walletClient.*", "web3.*", "*.getBalance", "*.readContract", "*.writeContract",
             "*.sendTransaction", "*.estimateGas", "*.waitForTransactionReceipt", "*.getTransactionReceipt")
    + _rules("sdk", "resend.*", "sgMail.*", "sendgrid.*", "slack.*", "slackClient.*", "webClient.*",
             "discord.*", "twilio.*", "stripe.*", "octokit.*", "openai.*", "anthropic.*", "telegram.*",
             "*.chat.postMessage", "*.emails.send", "*.messages.create")
)  # fmt: skip

_SEGMENT = re.compile(r"[A-Za-z_$#][\w$]*|\*")


def _pattern_regex(pattern: str) -> str:
    segments = pattern.split(".")
    parts: list[str] = []
    for i, seg in enumerate(segments):
        if not _SEGMENT.fullmatch(seg):
            raise ExternalCallRulesError(
                f"bad external-call pattern {pattern!r}: segments are identifiers or '*', joined by '.'"
            )
        last = i == len(segments) - 1
        if seg == "*":
            parts.append(r"[^.]+(?:\.[^.]+)*" if last else r"[^.]+")
        else:
            parts.append(re.escape(seg))
    return r"\.".join(parts)


class RuleSet:
    """Ordered rules compiled into one regex: one match per call, whatever the number of rules."""

    def __init__(self, rules: tuple[Rule, ...] | list[Rule] = DEFAULT_RULES) -> None:
        self.rules = tuple(rules)
        alternatives = [f"(?P<r{i}>{_pattern_regex(r.pattern)})" for i, r in enumerate(self.rules)]
        self._regex = re.compile("|".join(alternatives)) if alternatives else None

    def kind(self, path: str) -> str | None:
        if self._regex is None:
            return None
        m = self._regex.fullmatch(path)
        return self.rules[int(m.lastgroup[1:])].kind if m and m.lastgroup else None


def load_rules(path: Path | str | None) -> RuleSet:
    """The rules from a JSON file (see module doc), or the defaults when `path` is None."""
    if path is None:
        return RuleSet()
    path = Path(path)
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ExternalCallRulesError(f"cannot read external-call rules {path}: {exc.strerror}") from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise ExternalCallRulesError(f"external-call rules {path} is not valid JSON: {exc}") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("rules"), list):
        raise ExternalCallRulesError(f"external-call rules {path}: expected an object with a 'rules' list")
    include_defaults = doc.get("includeDefaults", True)
    if not isinstance(include_defaults, bool):
        raise ExternalCallRulesError(f"external-call rules {path}: 'includeDefaults' must be true or false")
    rules: list[Rule] = []
    for i, item in enumerate(doc["rules"]):
        if (
            not isinstance(item, dict)
            or not isinstance(item.get("pattern"), str)
            or not isinstance(item.get("kind"), str)
            or not item["kind"]
        ):
            raise ExternalCallRulesError(
                f"external-call rules {path}: rule {i} must be {{\"pattern\": str, \"kind\": str}}, got {item!r}"
            )
        rules.append(Rule(item["pattern"], item["kind"]))
    try:
        return RuleSet(rules + (list(DEFAULT_RULES) if include_defaults else []))
    except ExternalCallRulesError as exc:
        raise ExternalCallRulesError(f"external-call rules {path}: {exc}") from None


# A callee that is a plain identifier path; `?.`, `!` and whitespace between segments are allowed.
_CALLEE_PATH = re.compile(rb"[A-Za-z_$#][\w$]*(?:\s*!?\s*\??\.\s*#?[A-Za-z_$][\w$]*)*\s*!?")
_PATH_NOISE = re.compile(rb"[\s!?]")
_PATH_NODE_TYPES = frozenset({"identifier", "member_expression", "non_null_expression", "this", "super"})


def callee_path(call: ts.Node, src: bytes) -> str | None:
    """`a.b?.c!` → "a.b.c"; None when the callee is not a plain identifier path (a call, an index, …)."""
    callee = call.child_by_field_name("function")
    if callee is None or callee.type not in _PATH_NODE_TYPES:
        return None
    text = src[callee.start_byte : callee.end_byte]
    if not _CALLEE_PATH.fullmatch(text):
        return None
    return _PATH_NOISE.sub(b"", text).decode("ascii")


def external_calls(calls: list[ts.Node], src: bytes, rules: RuleSet) -> list[ExternalCall]:
    """The classified calls among `calls`, in source order."""
    found: list[tuple[int, ExternalCall]] = []
    for call in calls:
        path = callee_path(call, src)
        if path is None:
            continue
        kind = rules.kind(path)
        if kind is not None:
            found.append((call.start_byte, ExternalCall(call.start_point[0] + 1, path, kind)))
    found.sort(key=lambda item: item[0])  # query captures of nested calls do not come in source order
    return [call for _, call in found]
