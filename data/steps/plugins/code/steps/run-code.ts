import "server-only";

import vm from "node:vm";

import { type StepInput, withStepLogging } from "@/lib/steps/step-handler";
import { getErrorMessage, truncate } from "@/lib/utils";
import { requireString } from "@/lib/validation";

// The "code" step: run a user's JavaScript snippet in a fresh V8 context (node:vm) with a time limit.
// The snippet is a function body; `inputs` holds the values it may read and `return` gives the result.
// node:vm is not a security boundary: the platform runs untrusted code in its WASM sandbox.

export type RunCodeInput = StepInput & {
  code: string;
  inputs?: Record<string, unknown>;
  timeoutMs?: number;
};

type RunCodeResult =
  | { success: true; result: unknown; logs: string[] }
  | { success: false; error: string; logs: string[] };

const MAX_TIMEOUT_MS = 30_000;

async function stepHandler(input: RunCodeInput): Promise<RunCodeResult> {
  const logs: string[] = [];
  let script: vm.Script;
  try {
    const code = requireString(input.code, "code", { maxLength: 100_000 });
    script = new vm.Script(`(async (inputs) => {\n${code}\n})`, { filename: "user-code.js" });
  } catch (error) {
    return { success: false, error: `Invalid code: ${getErrorMessage(error)}`, logs };
  }
  const timeout = Math.min(input.timeoutMs ?? 5_000, MAX_TIMEOUT_MS);
  const sandbox = vm.createContext({
    console: { log: (...args: unknown[]) => logs.push(args.map(String).join(" ")) },
    JSON,
    Math,
  });
  try {
    const fn = script.runInContext(sandbox, { timeout }) as (inputs: unknown) => Promise<unknown>;
    // runInContext's timeout covers synchronous code only; the race bounds async work too.
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`code did not finish within ${timeout} ms`)), timeout);
    });
    try {
      const result = await Promise.race([fn(structuredClone(input.inputs ?? {})), deadline]);
      JSON.stringify(result); // the result must be serializable to reach the next step
      return { success: true, result, logs };
    } finally {
      clearTimeout(timer);
    }
  } catch (error) {
    return { success: false, error: `Code failed: ${truncate(getErrorMessage(error), 500)}`, logs };
  }
}

export async function runCodeStep(input: RunCodeInput): Promise<RunCodeResult> {
  "use step";
  return withStepLogging(input, () => stepHandler(input));
}
runCodeStep.maxRetries = 0;

export const _integrationType = "code";
