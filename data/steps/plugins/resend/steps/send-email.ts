import "server-only";

import { Resend } from "resend";

import { fetchCredentials } from "@/lib/credential-fetcher";
import { type StepInput, withStepLogging } from "@/lib/steps/step-handler";
import { getErrorMessage } from "@/lib/utils";
import { optionalString, requireEmails, requireString } from "@/lib/validation";

// Transactional email through Resend. RESEND_BASE_URL (read by the SDK, or from the credentials)
// points it at another endpoint.

export type SendEmailInput = StepInput & {
  emailTo: string | string[];
  emailSubject: string;
  emailBody: string;
  emailFrom?: string;
  replyTo?: string;
};

type SendEmailResult = { success: true; id: string } | { success: false; error: string };

async function stepHandler(input: SendEmailInput, credentials: Record<string, string | undefined>): Promise<SendEmailResult> {
  const apiKey = credentials.RESEND_API_KEY;
  if (!apiKey) {
    return { success: false, error: "Resend API key is not configured. Connect Resend in the integration settings." };
  }
  let to: string[];
  let subject: string;
  let text: string;
  let from: string;
  try {
    to = requireEmails(input.emailTo, "emailTo");
    subject = requireString(input.emailSubject, "emailSubject", { maxLength: 998 });
    text = requireString(input.emailBody, "emailBody", { maxLength: 100_000 });
    from = optionalString(input.emailFrom, "emailFrom") ?? credentials.RESEND_FROM_EMAIL ?? "";
    if (!from) return { success: false, error: "emailFrom is required when no default sender is configured" };
  } catch (error) {
    return { success: false, error: getErrorMessage(error) };
  }
  const resend = new Resend(apiKey, credentials.RESEND_BASE_URL ? { baseUrl: credentials.RESEND_BASE_URL } : undefined);
  try {
    const { data, error } = await resend.emails.send({ from, to, subject, text, replyTo: input.replyTo });
    if (error) return { success: false, error: `Resend API error: ${error.message}` };
    if (!data?.id) return { success: false, error: "Resend did not return an email id" };
    return { success: true, id: data.id };
  } catch (error) {
    return { success: false, error: `Failed to send email: ${getErrorMessage(error)}` };
  }
}

export async function sendEmailStep(input: SendEmailInput): Promise<SendEmailResult> {
  "use step";
  const credentials = input.integrationId ? await fetchCredentials(input.integrationId) : {};
  return withStepLogging(input, () => stepHandler(input, credentials));
}
sendEmailStep.maxRetries = 0;

export const _integrationType = "resend";
