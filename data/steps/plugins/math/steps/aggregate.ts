import "server-only";

import { type StepInput, withStepLogging } from "@/lib/steps/step-handler";
import { getErrorMessage } from "@/lib/utils";
import { optionalString, requireString, StepInputError } from "@/lib/validation";

// Pure compute: group records by a key and aggregate one numeric field (count, sum, avg, min, max,
// median, p95). No I/O at all: its profile is the step's own code plus Node built-ins.

type Operation = "count" | "sum" | "avg" | "min" | "max" | "median" | "p95";

export type AggregateInput = StepInput & {
  items: Record<string, unknown>[];
  field: string;
  groupBy?: string;
  operations?: Operation[];
};

type GroupResult = { key: string } & Partial<Record<Operation, number>>;

type AggregateResult =
  | { success: true; groups: GroupResult[]; skipped: number }
  | { success: false; error: string };

const OPERATIONS: readonly Operation[] = ["count", "sum", "avg", "min", "max", "median", "p95"];
const MAX_ITEMS = 100_000;

function quantile(sorted: number[], q: number): number {
  if (sorted.length === 1) return sorted[0];
  const pos = (sorted.length - 1) * q;
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  return sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo);
}

function summarize(values: number[], operations: readonly Operation[]): Partial<Record<Operation, number>> {
  const sorted = [...values].sort((a, b) => a - b);
  const sum = sorted.reduce((acc, v) => acc + v, 0);
  const out: Partial<Record<Operation, number>> = {};
  for (const op of operations) {
    switch (op) {
      case "count":
        out.count = sorted.length;
        break;
      case "sum":
        out.sum = sum;
        break;
      case "avg":
        out.avg = sorted.length ? sum / sorted.length : 0;
        break;
      case "min":
        out.min = sorted[0];
        break;
      case "max":
        out.max = sorted[sorted.length - 1];
        break;
      case "median":
        out.median = quantile(sorted, 0.5);
        break;
      case "p95":
        out.p95 = quantile(sorted, 0.95);
        break;
    }
  }
  return out;
}

function toNumber(value: unknown): number | null {
  if (typeof value === "number") return Number.isFinite(value) ? value : null;
  if (typeof value === "string" && value.trim() !== "") {
    const parsed = Number(value);
    return Number.isFinite(parsed) ? parsed : null;
  }
  return null;
}

function aggregate(input: AggregateInput): AggregateResult {
  if (!Array.isArray(input.items)) throw new StepInputError("items must be an array of objects");
  if (input.items.length > MAX_ITEMS) throw new StepInputError(`items has more than ${MAX_ITEMS} records`);
  const field = requireString(input.field, "field", { maxLength: 200 });
  const groupBy = optionalString(input.groupBy, "groupBy");
  const operations = input.operations ?? ["count", "sum", "avg"];
  const unknown = operations.find((op) => !OPERATIONS.includes(op));
  if (unknown) throw new StepInputError(`unknown operation ${unknown}; use ${OPERATIONS.join(", ")}`);

  const groups = new Map<string, number[]>();
  let skipped = 0;
  for (const item of input.items) {
    const value = item && typeof item === "object" ? toNumber(item[field]) : null;
    if (value === null) {
      skipped += 1;
      continue;
    }
    const key = groupBy ? String(item[groupBy] ?? "(none)") : "all";
    const bucket = groups.get(key);
    if (bucket) bucket.push(value);
    else groups.set(key, [value]);
  }
  const result = [...groups.entries()]
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([key, values]) => ({ key, ...summarize(values, operations) }));
  return { success: true, groups: result, skipped };
}

export async function aggregateStep(input: AggregateInput): Promise<AggregateResult> {
  "use step";
  return withStepLogging(input, async () => {
    try {
      return aggregate(input);
    } catch (error) {
      return { success: false, error: getErrorMessage(error) };
    }
  });
}
aggregateStep.maxRetries = 0;

export const _integrationType = "math";
