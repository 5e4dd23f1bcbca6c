import "server-only";

import { type StepInput, withStepLogging } from "@/lib/steps/step-handler";
import { getErrorMessage, redactUrl, truncate } from "@/lib/utils";
import { optionalString, requireHttpUrl, StepInputError } from "@/lib/validation";

// Generic outgoing webhook: POST (or PUT/PATCH) a JSON payload with global fetch.

type HttpMethod = "POST" | "PUT" | "PATCH";

export type SendWebhookInput = StepInput & {
  webhookUrl: string;
  method?: HttpMethod;
  payload?: unknown;
  headers?: Record<string, string>;
  timeoutMs?: number;
};

type SendWebhookResult =
  | { success: true; status: number; response: unknown }
  | { success: false; error: string; status?: number };

const METHODS: readonly HttpMethod[] = ["POST", "PUT", "PATCH"];

function validate(input: SendWebhookInput): { url: URL; method: HttpMethod; body: string } {
  const url = requireHttpUrl(input.webhookUrl, "webhookUrl");
  const method = (optionalString(input.method, "method") ?? "POST").toUpperCase() as HttpMethod;
  if (!METHODS.includes(method)) {
    throw new StepInputError(`method must be one of ${METHODS.join(", ")}`);
  }
  const body = JSON.stringify(input.payload ?? {});
  if (body.length > 1_000_000) throw new StepInputError("payload is larger than 1 MB");
  return { url, method, body };
}

async function stepHandler(input: SendWebhookInput): Promise<SendWebhookResult> {
  let request: ReturnType<typeof validate>;
  try {
    request = validate(input);
  } catch (error) {
    return { success: false, error: getErrorMessage(error) };
  }
  const timeoutMs = input.timeoutMs ?? 10_000;
  try {
    const response = await fetch(request.url, {
      method: request.method,
      headers: { "content-type": "application/json", ...input.headers },
      body: request.body,
      signal: AbortSignal.timeout(timeoutMs),
    });
    const text = await response.text();
    let parsed: unknown = text;
    if (response.headers.get("content-type")?.includes("application/json")) {
      try {
        parsed = JSON.parse(text);
      } catch {
        // keep the raw text: some receivers send invalid JSON with a JSON content type
      }
    }
    if (!response.ok) {
      console.warn(`[webhook] ${redactUrl(request.url.toString())} answered ${response.status}`);
      return { success: false, status: response.status, error: `HTTP ${response.status}: ${truncate(text, 200)}` };
    }
    return { success: true, status: response.status, response: parsed };
  } catch (error) {
    return { success: false, error: `Webhook request failed: ${getErrorMessage(error)}` };
  }
}

export async function sendWebhookStep(input: SendWebhookInput): Promise<SendWebhookResult> {
  "use step";
  return withStepLogging(input, () => stepHandler(input));
}
sendWebhookStep.maxRetries = 0;

export const _integrationType = "webhook";
