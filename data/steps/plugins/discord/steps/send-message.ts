import "server-only";

import { type StepInput, withStepLogging } from "@/lib/steps/step-handler";
import { getErrorMessage, redactUrl } from "@/lib/utils";
import { optionalString, requireHttpUrl, requireString, StepInputError } from "@/lib/validation";

// Discord incoming webhook: one message, optionally with an embed. `?wait=true` makes Discord
// return the created message, so the step can report its id.

export type SendDiscordMessageInput = StepInput & {
  webhookUrl: string;
  content: string;
  username?: string;
  embedTitle?: string;
  embedDescription?: string;
};

type SendDiscordMessageResult =
  | { success: true; messageId: string; channelId: string }
  | { success: false; error: string };

const MAX_CONTENT = 2000; // Discord's limit for `content`

function buildBody(input: SendDiscordMessageInput): Record<string, unknown> {
  const content = requireString(input.content, "content");
  if (content.length > MAX_CONTENT) {
    throw new StepInputError(`content is longer than Discord's ${MAX_CONTENT} characters`);
  }
  const body: Record<string, unknown> = { content, allowed_mentions: { parse: [] } };
  const username = optionalString(input.username, "username");
  if (username) body.username = username;
  const title = optionalString(input.embedTitle, "embedTitle");
  if (title) {
    body.embeds = [{ title, description: optionalString(input.embedDescription, "embedDescription") ?? "" }];
  }
  return body;
}

async function stepHandler(input: SendDiscordMessageInput): Promise<SendDiscordMessageResult> {
  let url: URL;
  let body: Record<string, unknown>;
  try {
    url = requireHttpUrl(input.webhookUrl, "webhookUrl");
    body = buildBody(input);
  } catch (error) {
    return { success: false, error: getErrorMessage(error) };
  }
  url.searchParams.set("wait", "true");
  try {
    const response = await fetch(url, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(body),
      signal: AbortSignal.timeout(10_000),
    });
    if (response.status === 429) {
      const retryAfter = response.headers.get("retry-after") ?? "?";
      return { success: false, error: `Discord rate limit hit; retry after ${retryAfter}s` };
    }
    if (!response.ok) {
      const detail = await response.text();
      console.warn(`[discord] ${redactUrl(url.toString())} answered ${response.status}`);
      return { success: false, error: `Discord API error ${response.status}: ${detail.slice(0, 200)}` };
    }
    const message = (await response.json()) as { id?: string; channel_id?: string };
    if (!message.id) return { success: false, error: "Discord did not return a message id" };
    return { success: true, messageId: message.id, channelId: message.channel_id ?? "" };
  } catch (error) {
    return { success: false, error: `Failed to send Discord message: ${getErrorMessage(error)}` };
  }
}

export async function sendDiscordMessageStep(input: SendDiscordMessageInput): Promise<SendDiscordMessageResult> {
  "use step";
  return withStepLogging(input, () => stepHandler(input));
}
sendDiscordMessageStep.maxRetries = 0;

export const _integrationType = "discord";
