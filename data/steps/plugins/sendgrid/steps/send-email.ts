import "server-only";

import sgMail from "@sendgrid/mail";

import { fetchCredentials } from "@/lib/credential-fetcher";
import { type StepInput, withStepLogging } from "@/lib/steps/step-handler";
import { getErrorMessage } from "@/lib/utils";
import { optionalString, requireEmails, requireString } from "@/lib/validation";

// Email through SendGrid's v3 mail/send (the SDK uses axios over node:https). SENDGRID_BASE_URL in
// the credentials points it at another endpoint.

export type SendGridEmailInput = StepInput & {
  emailTo: string | string[];
  emailSubject: string;
  emailBody: string;
  emailFrom?: string;
  html?: boolean;
};

type SendGridEmailResult =
  | { success: true; messageId: string | null; statusCode: number }
  | { success: false; error: string };

async function stepHandler(
  input: SendGridEmailInput,
  credentials: Record<string, string | undefined>,
): Promise<SendGridEmailResult> {
  const apiKey = credentials.SENDGRID_API_KEY;
  if (!apiKey) {
    return { success: false, error: "SendGrid API key is not configured. Connect SendGrid in the integration settings." };
  }
  let message: sgMail.MailDataRequired;
  try {
    const to = requireEmails(input.emailTo, "emailTo");
    const from = optionalString(input.emailFrom, "emailFrom") ?? credentials.SENDGRID_FROM_EMAIL;
    if (!from) return { success: false, error: "emailFrom is required when no default sender is configured" };
    const subject = requireString(input.emailSubject, "emailSubject", { maxLength: 998 });
    const body = requireString(input.emailBody, "emailBody", { maxLength: 100_000 });
    message = input.html ? { to, from, subject, html: body } : { to, from, subject, text: body };
  } catch (error) {
    return { success: false, error: getErrorMessage(error) };
  }
  sgMail.setApiKey(apiKey);
  if (credentials.SENDGRID_BASE_URL) sgMail.client.setDefaultRequest("baseUrl", credentials.SENDGRID_BASE_URL);
  sgMail.client.setDefaultRequest("timeout", 10_000);
  try {
    const [response] = await sgMail.send(message);
    const id = response.headers["x-message-id"];
    return { success: true, statusCode: response.statusCode, messageId: typeof id === "string" ? id : null };
  } catch (error) {
    const body = (error as { response?: { body?: { errors?: { message: string }[] } } }).response?.body;
    const detail = body?.errors?.map((e) => e.message).join("; ");
    return { success: false, error: `SendGrid error: ${detail ?? getErrorMessage(error)}` };
  }
}

export async function sendGridEmailStep(input: SendGridEmailInput): Promise<SendGridEmailResult> {
  "use step";
  const credentials = input.integrationId ? await fetchCredentials(input.integrationId) : {};
  return withStepLogging(input, () => stepHandler(input, credentials));
}
sendGridEmailStep.maxRetries = 0;

export const _integrationType = "sendgrid";
