import "server-only";

import { WebClient } from "@slack/web-api";

import { fetchCredentials } from "@/lib/credential-fetcher";
import { type StepInput, withStepLogging } from "@/lib/steps/step-handler";
import { getErrorMessage } from "@/lib/utils";
import { requireString } from "@/lib/validation";

// Slack chat.postMessage through the official SDK. The API base URL comes from the integration's
// credentials (SLACK_API_URL), defaulting to Slack's, so the call can be pointed at a stub.

export type SendSlackMessageInput = StepInput & {
  slackChannel: string;
  slackMessage: string;
  threadTs?: string;
};

type SendSlackMessageResult =
  | { success: true; ts: string; channel: string }
  | { success: false; error: string };

async function stepHandler(
  input: SendSlackMessageInput,
  credentials: Record<string, string | undefined>,
): Promise<SendSlackMessageResult> {
  const token = credentials.SLACK_API_KEY;
  if (!token) {
    return { success: false, error: "Slack API key is not configured. Connect Slack in the integration settings." };
  }
  let channel: string;
  let text: string;
  try {
    channel = requireString(input.slackChannel, "slackChannel", { maxLength: 80 });
    text = requireString(input.slackMessage, "slackMessage", { maxLength: 40_000 });
  } catch (error) {
    return { success: false, error: getErrorMessage(error) };
  }
  const client = new WebClient(token, {
    slackApiUrl: credentials.SLACK_API_URL ?? "https://slack.com/api/",
    retryConfig: { retries: 0 }, // the workflow engine owns retries
    timeout: 10_000,
  });
  try {
    const result = await client.chat.postMessage({ channel, text, thread_ts: input.threadTs, mrkdwn: true });
    if (!result.ok || !result.ts) {
      return { success: false, error: `Slack API error: ${result.error ?? "no message timestamp returned"}` };
    }
    return { success: true, ts: result.ts, channel: result.channel ?? channel };
  } catch (error) {
    return { success: false, error: `Failed to send Slack message: ${getErrorMessage(error)}` };
  }
}

export async function sendSlackMessageStep(input: SendSlackMessageInput): Promise<SendSlackMessageResult> {
  "use step";
  const credentials = input.integrationId ? await fetchCredentials(input.integrationId) : {};
  return withStepLogging(input, () => stepHandler(input, credentials));
}
sendSlackMessageStep.maxRetries = 0;

export const _integrationType = "slack";
