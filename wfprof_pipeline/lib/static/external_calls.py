"""External calls: every call whose callee is a plain identifier path (`fetch`, `db.select`, `signer.sendTransaction`)
classified by ordered, configurable rules.

Rules match the callee's *identifier path*, never substrings: `fetchCredentials(...)` is not `fetch`, and in
`fetch(url).finally(...)` only the inner call has an identifier path, so the chain is one fetch (likewise a
Drizzle chain `db.select().from(t).where(...)` is one `db.select`). `?.` and `!` are dropped from the path.

Pattern syntax: dot-separated segments; `*` matches one segment, except as the last segment, where it matches
one or more (`db.*` matches `db.select` and `db.query.users.findMany`, not `db` itself). First match wins.

Named SDK helpers are classified by where they come from: a call whose path starts with a name imported
(`import`, `import * as`, `require`) from a package with an import rule gets that rule's kind — so
`createPublicClient(...)` imported from `viem` is web3, `sgMail.send(...)` from `@sendgrid/mail` is sdk.
Path rules win over import rules. Module patterns are exact names or prefixes ending in `/*` (`@slack/*`).

Pure helpers are not I/O: the kind `pure` drops a call. By default that covers drizzle's condition and
column builders (`eq`, `and`, `inArray`, `sql`, `desc`, …: they build a query, the awaited chain is the one
database call), ethers' and viem's formatting and encoding helpers (`formatEther`, `parseUnits`, …) and
viem's `http()` transport factory. An import rule can name the imported names it applies to.

Rules file (JSON): `{"rules": [{"pattern": "myApi.*", "kind": "http"}], "imports": [{"module": "@acme/*",
"kind": "sdk"}, {"module": "@acme/util", "names": ["slugify"], "kind": "pure"}], "pure": ["money.*"],
"includeDefaults": true}`; its rules are tried before the defaults unless `includeDefaults` is false.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

import tree_sitter as ts

from wfprof_pipeline.lib.errors import WfprofError


class ExternalCallRulesError(WfprofError, ValueError):
    """The external-call rules file is missing, not JSON, or not of the documented shape."""


@dataclass(frozen=True)
class Rule:
    pattern: str
    kind: str


@dataclass(frozen=True)
class ImportRule:
    module: str  # a package name, or a prefix ending in "/*"
    kind: str
    names: tuple[str, ...] = ()  # only these imported names (empty: every name from the module)


PURE = "pure"  # the kind of a call that is not I/O: not reported as external


@dataclass(frozen=True)
class ExternalCall:
    line: int  # 1-based
    callee: str  # identifier path, e.g. "db.select"
    kind: str


def _rules(kind: str, *patterns: str) -> list[Rule]:
    return [Rule(p, kind) for p in patterns]


# Formatting, parsing and encoding helpers called through the package namespace (`ethers.formatEther`).
_ETHERS_PURE = ("formatEther", "formatUnits", "parseEther", "parseUnits", "getAddress", "isAddress", "id",
                "keccak256", "solidityPackedKeccak256", "toUtf8Bytes", "toUtf8String", "hexlify", "zeroPadValue",
                "toBeHex", "toBigInt", "toNumber", "getBytes", "concat", "dataSlice", "isHexString", "computeAddress",
                "AbiCoder.defaultAbiCoder", "Interface.from", "checksumAddress", "decodeBytes32String",
                "encodeBytes32String", "formatBytes32String", "parseBytes32String", "ZeroAddress")
_VIEM_PURE = ("http", "webSocket", "fallback", "custom", "formatEther", "formatUnits", "parseEther", "parseUnits",
              "getAddress", "isAddress", "checksumAddress", "encodeFunctionData", "decodeFunctionData",
              "decodeFunctionResult", "encodeAbiParameters", "decodeAbiParameters", "decodeEventLog", "parseAbi",
              "parseAbiItem", "keccak256", "toHex", "fromHex", "hexToBigInt", "hexToNumber", "numberToHex",
              "toBytes", "stringToHex", "erc20Abi", "defineChain", "parseGwei", "formatGwei")
_DRIZZLE_PURE = ("eq", "ne", "and", "or", "not", "gt", "gte", "lt", "lte", "inArray", "notInArray", "isNull",
                 "isNotNull", "like", "ilike", "notLike", "between", "notBetween", "exists", "notExists", "sql",
                 "asc", "desc", "count", "countDistinct", "sum", "avg", "max", "min", "arrayContains",
                 "arrayContained", "arrayOverlaps", "getTableColumns", "relations")

DEFAULT_RULES: tuple[Rule, ...] = tuple(
    # A contract's ABI interface (`contract.interface.encodeFunctionData`) encodes, it does not call.
    _rules(PURE, *(f"ethers.{n}" for n in _ETHERS_PURE), "*.interface.*")
    + _rules("fetch", "fetch", "globalThis.fetch", "window.fetch", "self.fetch", "undici.fetch", "ofetch")
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

def _imports(kind: str, *modules: str) -> list[ImportRule]:
    return [ImportRule(m, kind) for m in modules]


DEFAULT_IMPORT_RULES: tuple[ImportRule, ...] = tuple(
    [ImportRule("drizzle-orm", PURE, _DRIZZLE_PURE), ImportRule("drizzle-orm/*", PURE, _DRIZZLE_PURE),
     ImportRule("ethers", PURE, _ETHERS_PURE), ImportRule("viem", PURE, _VIEM_PURE),
     ImportRule("viem/*", PURE, _VIEM_PURE)]
    + _imports("fetch", "node-fetch", "cross-fetch")
    + _imports("http", "axios", "got", "ky", "undici", "superagent")
    + _imports("db", "drizzle-orm", "drizzle-orm/*", "pg", "postgres", "@prisma/client", "mysql2", "redis",
               "ioredis")
    + _imports("web3", "ethers", "viem", "viem/*", "web3", "@ethersproject/*", "@solana/*")
    + _imports("sdk", "@slack/*", "resend", "@sendgrid/*", "discord.js", "twilio", "stripe", "openai",
               "@anthropic-ai/*", "@octokit/*", "@linear/*", "@notionhq/*", "telegraf")
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


_MODULE = re.compile(r"(@[\w.-]+/)?[\w.-]+(/[\w.-]+)*(/\*)?|@[\w.-]+/\*")


class RuleSet:
    """Ordered rules compiled into one regex: one match per call, whatever the number of rules."""

    def __init__(
        self,
        rules: tuple[Rule, ...] | list[Rule] = DEFAULT_RULES,
        imports: tuple[ImportRule, ...] | list[ImportRule] = DEFAULT_IMPORT_RULES,
    ) -> None:
        self.rules = tuple(rules)
        self.imports = tuple(imports)
        alternatives = [f"(?P<r{i}>{_pattern_regex(r.pattern)})" for i, r in enumerate(self.rules)]
        self._regex = re.compile("|".join(alternatives)) if alternatives else None
        for rule in self.imports:
            if not _MODULE.fullmatch(rule.module):
                raise ExternalCallRulesError(f"bad module pattern {rule.module!r}: a package name or 'prefix/*'")

    def kind(self, path: str) -> str | None:
        if self._regex is None:
            return None
        m = self._regex.fullmatch(path)
        return self.rules[int(m.lastgroup[1:])].kind if m and m.lastgroup else None

    def import_kind(self, module: str, name: str | None = None) -> str | None:
        """The kind of a call through a name imported from `module` (`name`: the imported name, None for
        a default or namespace import)."""
        for rule in self.imports:
            if rule.module == module or (rule.module.endswith("/*") and module.startswith(rule.module[:-1])):
                if rule.names and name not in rule.names:
                    continue
                return rule.kind
        return None


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
    imports_doc = doc.get("imports", [])
    if not isinstance(imports_doc, list):
        raise ExternalCallRulesError(f"external-call rules {path}: 'imports' must be a list")
    imports: list[ImportRule] = []
    for i, item in enumerate(imports_doc):
        if not isinstance(item, dict) or not isinstance(item.get("module"), str) or not isinstance(
            item.get("kind"), str
        ) or not item["kind"]:
            raise ExternalCallRulesError(
                f"external-call rules {path}: import rule {i} must be {{\"module\": str, \"kind\": str}}, got {item!r}"
            )
        names = item.get("names", [])
        if not isinstance(names, list) or not all(isinstance(n, str) and n for n in names):
            raise ExternalCallRulesError(f"external-call rules {path}: import rule {i}: 'names' must be a list of "
                                         "names")
        imports.append(ImportRule(item["module"], item["kind"], tuple(names)))
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
    pure = doc.get("pure", [])
    if not isinstance(pure, list) or not all(isinstance(n, str) for n in pure):
        raise ExternalCallRulesError(f"external-call rules {path}: 'pure' must be a list of call patterns")
    rules = [Rule(n, PURE) for n in pure] + rules
    try:
        return RuleSet(
            rules + (list(DEFAULT_RULES) if include_defaults else []),
            imports + (list(DEFAULT_IMPORT_RULES) if include_defaults else []),
        )
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


def _string(node: ts.Node | None, src: bytes) -> str | None:
    if node is None or node.type != "string":
        return None
    return "".join(src[c.start_byte : c.end_byte].decode("utf-8", "replace") for c in node.named_children)


def _bound_names(pattern: ts.Node, src: bytes) -> list[str]:
    """Local names bound by `x` or `{ a, b: c }` (what a `require(...)` result is assigned to)."""
    if pattern.type == "identifier":
        return [src[pattern.start_byte : pattern.end_byte].decode()]
    names = []
    if pattern.type == "object_pattern":
        for child in pattern.named_children:
            if child.type == "shorthand_property_identifier_pattern":
                names.append(src[child.start_byte : child.end_byte].decode())
            elif child.type == "pair_pattern" and (value := child.child_by_field_name("value")) is not None:
                names.extend(_bound_names(value, src))
    return names


def imported_names(import_statements: list[ts.Node], requires: list[ts.Node], src: bytes) -> dict[str, str]:
    """Local name → module, from `import` statements and `const … = require("m")`."""
    return {local: module for local, (module, _) in imported_bindings(import_statements, requires, src).items()}


def imported_bindings(import_statements: list[ts.Node], requires: list[ts.Node],
                      src: bytes) -> dict[str, tuple[str, str | None]]:
    """Local name → (module, imported name; None for default and namespace imports)."""
    names: dict[str, tuple[str, str | None]] = {}
    for statement in import_statements:
        module = _string(statement.child_by_field_name("source"), src)
        clause = next((c for c in statement.named_children if c.type == "import_clause"), None)
        if module is None or clause is None:
            continue
        for part in clause.named_children:
            if part.type == "identifier":  # default import
                names[src[part.start_byte : part.end_byte].decode()] = (module, None)
            elif part.type == "namespace_import":
                for ident in part.named_children:
                    names[src[ident.start_byte : ident.end_byte].decode()] = (module, None)
            elif part.type == "named_imports":
                for spec in part.named_children:
                    original = spec.child_by_field_name("name")
                    local = spec.child_by_field_name("alias") or original
                    if local is not None and original is not None:
                        names[src[local.start_byte : local.end_byte].decode("utf-8", "replace")] = (
                            module, src[original.start_byte : original.end_byte].decode("utf-8", "replace"))
    for call in requires:
        args = call.child_by_field_name("arguments")
        module = _string(args.named_children[0], src) if args is not None and args.named_child_count == 1 else None
        parent = call.parent
        if module is not None and parent is not None and parent.type == "variable_declarator":
            pattern = parent.child_by_field_name("name")
            for name in _bound_names(pattern, src):
                # `const { eq } = require("drizzle-orm")` binds the name itself; `const x = require(…)` the module
                names[name] = (module, name if pattern is not None and pattern.type == "object_pattern" else None)
    return names


def external_calls(
    calls: list[ts.Node], src: bytes, rules: RuleSet, import_statements: list[ts.Node] = ()
) -> list[ExternalCall]:
    """The classified calls among `calls`, in source order."""
    paths = [(call, path) for call in calls if (path := callee_path(call, src)) is not None]
    imports = imported_bindings(list(import_statements), [c for c, p in paths if p == "require"], src)
    found: list[tuple[int, ExternalCall]] = []
    for call, path in paths:
        kind = rules.kind(path)
        if kind is None and imports:
            head, _, rest = path.partition(".")
            bound = imports.get(head)
            if bound is not None:
                module, name = bound
                # `formatEther(x)` (named import) or `ethers.formatEther(x)` (namespace): the helper's name
                kind = rules.import_kind(module, name if name is not None else rest or None)
        if kind is not None and kind != PURE:
            found.append((call.start_byte, ExternalCall(call.start_point[0] + 1, path, kind)))
    found.sort(key=lambda item: item[0])  # query captures of nested calls do not come in source order
    return [call for _, call in found]
