"""Deterministic generator of realistic KeeperHub-style step files (benchmark input, not test data).

Each file looks like the bundled sample steps: imports, input/result types, validation with guard clauses,
request building with `??`/ternaries, fetch with retries, SDK and ethers calls, switch on a network, arrow
pipelines, the occasional class, and the `"use step"` entry point. About 225 lines per file on average.
"""

from __future__ import annotations

import random
from pathlib import Path

PLUGINS = ["web3", "slack", "discord", "webhook", "resend", "sendgrid", "telegram", "github", "linear", "math",
           "http", "code", "notion", "stripe", "twilio", "openai"]
VERBS = ["send", "check", "read", "transfer", "create", "update", "fetch", "list", "sync", "notify", "resolve"]
NOUNS = ["message", "balance", "contract", "email", "issue", "invoice", "payment", "record", "event", "token",
         "webhook", "report", "order", "user", "channel"]
FIELDS = ["address", "amount", "network", "channel", "text", "subject", "to", "from", "url", "method", "token",
          "limit", "retries", "timeoutMs", "memo", "threadId", "chainId", "decimals", "symbol", "label"]


def _camel(*words: str) -> str:
    return words[0] + "".join(w[:1].upper() + w[1:] for w in words[1:])


def _validation(r: random.Random, name: str, fields: list[str]) -> str:
    lines = [f"function validate{name}(input: {name}Input): string | null {{"]
    for f in fields:
        kind = r.choice(["required", "string", "number", "range"])
        if kind == "required":
            lines.append(f"  if (!input.{f}) {{\n    return \"{f} is required\";\n  }}")
        elif kind == "string":
            lines.append(f"  if (input.{f} !== undefined && typeof input.{f} !== \"string\") {{\n"
                         f"    return \"{f} must be a string\";\n  }}")
        elif kind == "number":
            lines.append(f"  const {f}Value = Number(input.{f} ?? 0);\n  if (Number.isNaN({f}Value) || {f}Value < 0) "
                         f"{{\n    return `invalid {f}: ${{input.{f}}}`;\n  }}")
        else:
            lines.append(f"  if (input.{f} && (String(input.{f}).length < 2 || String(input.{f}).length > 256)) {{\n"
                         f"    return \"{f} length out of range\";\n  }}")
    lines.append("  return null;\n}")
    return "\n".join(lines)


def _request(r: random.Random, name: str, fields: list[str]) -> str:
    body = ",\n".join(f"    {f}: input.{f} ?? {r.choice(['null', 'undefined', repr('')])}" for f in fields)
    return (f"function build{name}Request(input: {name}Input, credentials: Credentials) {{\n"
            f"  const headers: Record<string, string> = {{\n"
            f"    \"content-type\": \"application/json\",\n"
            f"    authorization: credentials.apiKey ? `Bearer ${{credentials.apiKey}}` : \"\",\n  }};\n"
            f"  if (credentials.workspace) {{\n    headers[\"x-workspace\"] = credentials.workspace;\n  }}\n"
            f"  return {{\n    headers,\n    body: JSON.stringify({{\n{body},\n    }}),\n"
            f"    timeout: input.timeoutMs && input.timeoutMs > 0 ? input.timeoutMs : {r.choice([5000, 30000])},\n"
            f"  }};\n}}")


def _fetch_retry(r: random.Random, name: str) -> str:
    attempts = r.choice([2, 3, 5])
    return f"""async function call{name}Api(url: string, init: RequestInit, attempts = {attempts}): Promise<Response> {{
  let lastError: unknown = null;
  for (let attempt = 1; attempt <= attempts; attempt++) {{
    try {{
      const response = await fetch(url, init);
      if (response.ok) {{
        return response;
      }}
      if (response.status === 429 || response.status >= 500) {{
        lastError = new Error(`HTTP ${{response.status}}`);
        await new Promise((resolve) => setTimeout(resolve, attempt * {r.choice([100, 250, 500])}));
        continue;
      }}
      throw new Error(`request failed with status ${{response.status}}: ${{await response.text()}}`);
    }} catch (error) {{
      lastError = error;
      if (attempt === attempts) {{
        break;
      }}
    }}
  }}
  throw lastError instanceof Error ? lastError : new Error(String(lastError));
}}"""


def _network_switch(r: random.Random, name: str) -> str:
    nets = r.sample(["mainnet", "sepolia", "base", "arbitrum", "optimism", "polygon", "holesky"], r.randint(2, 5))
    cases = "\n".join(f"    case \"{n}\":\n      return {{ chainId: {1000 + i}, rpc: \"https://{n}.rpc.test\" }};"
                      for i, n in enumerate(nets))
    return (f"function resolve{name}Network(network?: string): {{ chainId: number; rpc: string }} {{\n"
            f"  switch ((network ?? \"{nets[0]}\").toLowerCase()) {{\n{cases}\n"
            f"    default:\n      throw new Error(`unsupported network: ${{network}}`);\n  }}\n}}")


def _web3(r: random.Random, name: str) -> str:
    return f"""async function read{name}OnChain(address: string, network?: string) {{
  const {{ rpc, chainId }} = resolve{name}Network(network);
  const provider = new ethers.JsonRpcProvider(rpc, chainId);
  try {{
    const checksum = ethers.getAddress(address);
    const [balance, block] = await Promise.all([provider.getBalance(checksum), provider.getBlockNumber()]);
    const contract = new ethers.Contract(checksum, ["function decimals() view returns (uint8)"], provider);
    const decimals = block > 0 ? await contract.decimals().catch(() => 18) : 18;
    return {{ balance: ethers.formatUnits(balance, decimals), block, checksum }};
  }} finally {{
    provider.destroy();
  }}
}}"""


def _pipeline(r: random.Random, name: str) -> str:
    threshold = r.randint(0, 100)
    return f"""export function summarize{name}(items: Array<{{ id: string; value?: number; enabled?: boolean }}>) {{
  const active = items.filter((item) => item.enabled !== false && (item.value ?? 0) > {threshold});
  const total = active.reduce((sum, item) => sum + (item.value ?? 0), 0);
  const byId = new Map(active.map((item) => [item.id, item.value ?? 0] as const));
  return {{
    count: active.length,
    total,
    average: active.length ? total / active.length : 0,
    top: [...byId.entries()].sort((a, b) => b[1] - a[1]).slice(0, {r.randint(3, 10)}),
    empty: active.length === 0 || total === 0,
  }};
}}"""


def _klass(r: random.Random, name: str) -> str:
    return f"""class {name}Cache {{
  private entries = new Map<string, {{ value: unknown; expires: number }}>();
  static instances = 0;
  constructor(private readonly ttlMs = {r.choice([1000, 60000, 300000])}) {{
    {name}Cache.instances++;
  }}
  get size(): number {{
    return this.entries.size;
  }}
  get(key: string): unknown {{
    const hit = this.entries.get(key);
    if (!hit || hit.expires < Date.now()) {{
      this.entries.delete(key);
      return undefined;
    }}
    return hit.value;
  }}
  set(key: string, value: unknown): void {{
    this.entries.set(key, {{ value, expires: Date.now() + this.ttlMs }});
  }}
}}"""


def _handler(r: random.Random, name: str, fields: list[str], web3: bool) -> str:
    onchain = (f"\n  const chain = input.address ? await read{name}OnChain(String(input.address), input.network) "
               f": null;") if web3 else ""
    return f"""async function stepHandler(input: {name}Input): Promise<{name}Result> {{
  const problem = validate{name}(input);
  if (problem) {{
    return {{ success: false, error: problem }};
  }}
  const credentials = input.integrationId ? await fetchCredentials(input.integrationId) : {{}};
  if (!credentials.apiKey && !process.env.{name.upper()}_API_KEY) {{
    return {{ success: false, error: "missing credentials" }};
  }}
  try {{
    const request = build{name}Request(input, credentials);
    const response = await call{name}Api(credentials.baseUrl ?? "https://api.example.test/v1/{name.lower()}", {{
      method: "POST",
      headers: request.headers,
      body: request.body,
    }});
    const data = (await response.json()) as {{ id?: string; status?: string; items?: unknown[] }};{onchain}
    return {{
      success: true,
      id: data.id ?? "",
      status: data.status === "ok" ? "ok" : data.status ?? "unknown",
      items: Array.isArray(data.items) ? data.items.length : 0,{' chain,' if web3 else ''}
    }};
  }} catch (error) {{
    return {{ success: false, error: `{name} failed: ${{getErrorMessage(error)}}` }};
  }}
}}

export async function {_camel(name[:1].lower() + name[1:])}Step(input: {name}Input): Promise<{name}Result> {{
  "use step";
  return withStepLogging(input, () => stepHandler(input));
}}
{_camel(name[:1].lower() + name[1:])}Step.maxRetries = {r.choice([0, 1, 3])};

export const _integrationType = "{name.lower()}";"""


def step_source(r: random.Random, name: str) -> str:
    fields = r.sample(FIELDS, r.randint(4, 9))
    web3 = r.random() < 0.35
    type_fields = "\n".join(f"  {f}?: {r.choice(['string', 'number', 'string | null'])};" for f in fields)
    parts = [
        'import "server-only";\n',
        'import { ethers } from "ethers";' if web3 else 'import { z } from "zod";',
        'import { fetchCredentials, type Credentials } from "@/lib/credential-fetcher";',
        'import { type StepInput, withStepLogging } from "@/lib/steps/step-handler";',
        'import { getErrorMessage } from "@/lib/utils";\n',
        f"// {name}: generated benchmark step in the KeeperHub layout.\n",
        f"export type {name}Input = StepInput & {{\n  integrationId?: string;\n{type_fields}\n}};\n",
        f"type {name}Result =\n  | {{ success: true; id: string; status: string; items: number; chain?: unknown }}\n"
        f"  | {{ success: false; error: string }};\n",
        _validation(r, name, fields),
        _request(r, name, fields),
        _fetch_retry(r, name),
    ]
    if web3:
        parts += [_network_switch(r, name), _web3(r, name)]
    parts.append(_pipeline(r, name))
    if r.random() < 0.3:
        parts.append(_klass(r, name))
    if r.random() < 0.4:
        parts.append(_network_switch(r, name + "Alt"))
    parts.append(_handler(r, name, fields, web3))
    head, body = parts[:7], parts[7:]
    return "\n\n".join(head + [_doc(r, name) + "\n" + part for part in body]) + "\n"


def _doc(r: random.Random, name: str) -> str:
    notes = r.sample([
        "Errors are returned, never thrown, so the workflow executor can record them.",
        "Inputs come from the workflow editor and may be partially filled in.",
        "Credentials are resolved per integration and cached by the platform.",
        "Keep this pure: it runs once per step execution.",
        "Network calls are bounded by the step timeout.",
        "Values are normalized before they reach the provider SDK.",
    ], r.randint(2, 4))
    return "/**\n * " + f"Part of the {name} step.\n * " + "\n * ".join(notes) + "\n */"


def generate(root: Path, files: int, seed: int = 1) -> tuple[int, int]:
    """Write `files` step files under root/plugins/<plugin>/steps/; returns (files, lines)."""
    r = random.Random(seed)
    lines = 0
    for i in range(files):
        plugin = PLUGINS[i % len(PLUGINS)]
        step = f"{r.choice(VERBS)}-{r.choice(NOUNS)}-{i}"
        name = "".join(w[:1].upper() + w[1:] for w in step.split("-")[:2]) + str(i)
        path = root / "plugins" / plugin / "steps" / f"{step}.ts"
        path.parent.mkdir(parents=True, exist_ok=True)
        text = step_source(r, name)
        path.write_text(text)
        lines += text.count("\n") + 1
    return files, lines
