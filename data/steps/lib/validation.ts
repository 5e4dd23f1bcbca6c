// Input validation for the sample steps: every step checks its input before doing any I/O,
// and reports what is wrong in one sentence (as KeeperHub steps do).

export class StepInputError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "StepInputError";
  }
}

export function requireString(value: unknown, field: string, { maxLength = 10_000 } = {}): string {
  if (typeof value !== "string" || value.trim() === "") {
    throw new StepInputError(`${field} is required and must be a non-empty string`);
  }
  if (value.length > maxLength) {
    throw new StepInputError(`${field} is longer than ${maxLength} characters`);
  }
  return value;
}

export function optionalString(value: unknown, field: string): string | undefined {
  if (value === undefined || value === null || value === "") return undefined;
  return requireString(value, field);
}

export function requireHttpUrl(value: unknown, field: string): URL {
  const text = requireString(value, field, { maxLength: 2048 });
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new StepInputError(`${field} is not a valid URL`);
  }
  if (url.protocol !== "https:" && url.protocol !== "http:") {
    throw new StepInputError(`${field} must be an http(s) URL`);
  }
  return url;
}

const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;

export function requireEmails(value: unknown, field: string): string[] {
  const list = Array.isArray(value) ? value : typeof value === "string" ? value.split(",") : [];
  const emails = list.map((v) => String(v).trim()).filter(Boolean);
  if (emails.length === 0) throw new StepInputError(`${field} needs at least one email address`);
  const bad = emails.find((e) => !EMAIL.test(e));
  if (bad) throw new StepInputError(`${field}: "${bad}" is not an email address`);
  return emails;
}

const ADDRESS = /^0x[0-9a-fA-F]{40}$/;

export function requireAddress(value: unknown, field: string): string {
  const text = requireString(value, field, { maxLength: 42 });
  if (!ADDRESS.test(text)) throw new StepInputError(`${field} must be a 0x-prefixed 20-byte hex address`);
  return text;
}

/** RPC endpoint: the input's `rpcUrl`, else the RPC_URL environment variable (set per network in production). */
export function resolveRpcUrl(input: { rpcUrl?: unknown }): string {
  const url = input.rpcUrl ?? process.env.RPC_URL;
  return requireHttpUrl(url, "rpcUrl (or RPC_URL)").toString();
}
