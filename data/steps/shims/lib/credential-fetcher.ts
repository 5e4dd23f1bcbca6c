// Shim for KeeperHub's `@/lib/credential-fetcher`, which decrypts integration credentials from the
// database. Here they come from the environment the step registry sets for each step, so a profiled step
// never needs the platform database.

export type Credentials = Record<string, string | undefined>;

export async function fetchCredentials(integrationId: string): Promise<Credentials> {
  if (!integrationId) return {};
  const credentials: Credentials = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (/^[A-Z][A-Z0-9_]*$/.test(key)) credentials[key] = value;
  }
  return credentials;
}
