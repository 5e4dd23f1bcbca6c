"""Scrubbing secrets out of error texts before they leave the platform's database.

One rule table serves three engines: Python's `re` (one text at a time, `scrub`), polars' Rust regex
(a whole column at once, `scrub_expr`) and DuckDB's RE2 (`scrub_sql`, used by the trace ingest on each
distinct error text of a day), so the patterns stay inside the syntax all share (no look-around, no
back-references). A rule replaces its whole match, optionally keeping a
leading group (e.g. `Bearer `, `api_key=`), with `[REDACTED:<rule>]`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import polars as pl

ERROR_MAX_CHARS = 1000
ELLIPSIS = "…"


@dataclass(frozen=True)
class Rule:
    name: str
    pattern: str
    keep_prefix: bool = False  # keep capture group 1 (the label before the secret)

    def python_replacement(self) -> str:
        return (r"\g<1>" if self.keep_prefix else "") + f"[REDACTED:{self.name}]"

    def rust_replacement(self) -> str:
        return ("${1}" if self.keep_prefix else "") + f"[REDACTED:{self.name}]"

    def re2_pattern(self) -> str:
        """The pattern for RE2, whose `\\s` is ASCII only: widened to Python's and Rust's Unicode spaces, so
        a secret after a no-break space is still found. (RE2's `\\b` is ASCII too; that only finds more.)"""
        out, in_class, i = [], False, 0
        while i < len(self.pattern):
            ch = self.pattern[i]
            if ch == "\\" and i + 1 < len(self.pattern):
                pair = self.pattern[i : i + 2]
                out.append((_UNICODE_SPACES if in_class else f"[{_UNICODE_SPACES}]") if pair == r"\s" else pair)
                i += 2
                continue
            in_class = (ch == "[") or (in_class and ch != "]")
            out.append(ch)
            i += 1
        return "".join(out)

    def re2_replacement(self) -> str:
        return (r"\1" if self.keep_prefix else "") + f"[REDACTED:{self.name}]"


# Python's and Rust's `\s` (Unicode White_Space), as the inside of an RE2 character class.
_UNICODE_SPACES = r"\s\x{0B}\x{85}\x{A0}\x{1680}\x{2000}-\x{200A}\x{2028}\x{2029}\x{202F}\x{205F}\x{3000}"


# Order matters: whole structures (PEM blocks, URLs with credentials) before the tokens inside them.
RULES: tuple[Rule, ...] = (
    Rule("pem", r"-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----[\s\S]*?(?:-----END [A-Z0-9 ]*PRIVATE KEY-----|$)"),
    # scheme://user:password@host → scheme://[REDACTED:url-userinfo]host. Greedy up to the last `@` of the
    # authority: an empty user (`redis://:pw@`) or an unencoded `@` in the password must not leak.
    Rule("url-userinfo", r"([A-Za-z][A-Za-z0-9+.\-]*://)[^/\s?#]*@", keep_prefix=True),
    # Webhook URLs carry their secret in the path.
    Rule("slack-webhook", r"(https?://hooks\.slack\.com/)[A-Za-z0-9/_\-]+", keep_prefix=True),
    Rule(
        "discord-webhook",
        r"(https?://(?:[a-z]+\.)?discord(?:app)?\.com/api/webhooks/)[A-Za-z0-9/_\-]+",
        keep_prefix=True,
    ),
    # RPC providers carry the project key in the path (ethers puts the URL in its errors).
    Rule(
        "rpc-url-key",
        r"(https?://[A-Za-z0-9.\-]*(?:infura\.io|alchemy\.com|alchemyapi\.io)/v[0-9]+/)[A-Za-z0-9_\-]{16,}",
        keep_prefix=True,
    ),
    Rule("quicknode-url-key", r"(https?://[A-Za-z0-9.\-]*quiknode\.pro/)[A-Za-z0-9_\-]{16,}", keep_prefix=True),
    # Query strings of any URL (tokens, keys, signatures): keep the path, drop everything after `?`.
    Rule("url-query", r"([A-Za-z][A-Za-z0-9+.\-]*://[^\s?#\"'<>]*)\?[^\s#\"'<>]*", keep_prefix=True),
    Rule("bearer", r"(?i)(\b(?:bearer|basic|token)\s+)[A-Za-z0-9\-._~+/=]{8,}", keep_prefix=True),
    Rule("jwt", r"\beyJ[A-Za-z0-9_\-]{5,}\.eyJ[A-Za-z0-9_\-]{5,}\.[A-Za-z0-9_\-]*"),
    Rule("slack-token", r"\bxox[abposr]-[A-Za-z0-9\-]{10,}"),
    Rule("sendgrid-key", r"\bSG\.[A-Za-z0-9_\-]{16,}\.[A-Za-z0-9_\-]{16,}"),
    Rule("stripe-key", r"\b(?:sk|rk|pk)_(?:live|test)_[A-Za-z0-9]{10,}"),
    Rule("openai-key", r"\bsk-(?:proj-)?[A-Za-z0-9_\-]{20,}"),
    Rule("resend-key", r"\bre_[A-Za-z0-9_]{16,}"),
    Rule("github-token", r"\b(?:gh[pousr]_[A-Za-z0-9]{30,}|github_pat_[A-Za-z0-9_]{30,})"),
    Rule("aws-access-key", r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b"),
    Rule("google-api-key", r"\bAIza[0-9A-Za-z_\-]{35}"),
    # A 32-byte hex secret is a private key (an address is 20 bytes, a tx hash is 32 too — the
    # cost of a redacted hash is nothing, a leaked key is everything).
    Rule("hex-private-key", r"\b(?:0x)?[0-9a-fA-F]{64}\b"),
    # A BIP-39 mnemonic after its label: 12 to 24 lowercase words.
    Rule(
        "mnemonic",
        r"(?i)((?:mnemonic|seed[_\- ]?phrase|recovery[_\- ]?phrase)[\"']?\s*[:=]\s*[\"']?)"
        r"[a-z]+(?:[ \t]+[a-z]+){11,23}",
        keep_prefix=True,
    ),
    # key=value / "key": "value" for secret-sounding names.
    Rule(
        "secret-field",
        r"(?i)((?:api[_\-]?key|apikey|secret(?:[_\-]?key)?|client[_\-]?secret|password|passwd|private[_\-]?key|"
        r"(?:access|refresh|auth|session|id)[_\-]?token|token|x-api-key)[\"']?\s*[:=]\s*[\"']?)"
        r"[^\s\"',;&}]{4,}",
        keep_prefix=True,
    ),
)

_COMPILED = tuple((re.compile(r.pattern), r.python_replacement()) for r in RULES)


def scrub(text: str | None) -> str | None:
    """`text` with every secret of RULES replaced by `[REDACTED:<rule>]`."""
    if text is None:
        return None
    for pattern, replacement in _COMPILED:
        text = pattern.sub(replacement, text)
    return text


def truncate(text: str | None, limit: int = ERROR_MAX_CHARS) -> str | None:
    if text is None or len(text) <= limit:
        return text
    return text[: limit - 1] + ELLIPSIS


def clean_error(text: str | None, limit: int = ERROR_MAX_CHARS) -> str | None:
    """Scrub first, then truncate: a cut must never leave half a secret unrecognised."""
    return truncate(scrub(text), limit)


def scrub_expr(expr: pl.Expr, limit: int = ERROR_MAX_CHARS) -> pl.Expr:
    """The polars form of clean_error, for a whole column (vectorised; nulls stay null)."""
    for rule in RULES:
        expr = expr.str.replace_all(rule.pattern, rule.rust_replacement())
    return pl.when(expr.str.len_chars() > limit).then(expr.str.slice(0, limit - 1) + pl.lit(ELLIPSIS)).otherwise(expr)


def scrub_sql(column: str) -> str:
    """A DuckDB SQL expression: scrub of the text column `column` (nulls stay null). Truncate the result
    with truncate_sql in an outer query, which then reads the scrubbed value once, not three times."""
    expr = column
    for rule in RULES:
        pattern, replacement = _sql_literal(rule.re2_pattern()), _sql_literal(rule.re2_replacement())
        expr = f"regexp_replace({expr}, {pattern}, {replacement}, 'g')"
    return expr


def truncate_sql(column: str, limit: int = ERROR_MAX_CHARS) -> str:
    """DuckDB SQL: truncate's rule (at most `limit` characters, the last one an ellipsis) on `column`."""
    return f"(case when length({column}) > {limit} then left({column}, {limit - 1}) || '{ELLIPSIS}' else {column} end)"


def _sql_literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"
