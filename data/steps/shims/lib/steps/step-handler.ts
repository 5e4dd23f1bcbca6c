// Shim for KeeperHub's `@/lib/steps/step-handler`. The real `withStepLogging` writes start and
// completion rows to the execution log table; the shim keeps the same contract (run the handler, log,
// rethrow failures) and logs to the console instead of the database.

export type StepContext = {
  executionId?: string;
  nodeId?: string;
  nodeName?: string;
};

export type StepInput = {
  _context?: StepContext;
  integrationId?: string;
};

export async function withStepLogging<TInput extends StepInput, TResult>(
  input: TInput,
  handler: () => Promise<TResult>,
): Promise<TResult> {
  const node = input._context?.nodeName ?? input._context?.nodeId ?? "step";
  console.info(`[step] ${node}: started`);
  try {
    const result = await handler();
    console.info(`[step] ${node}: completed`);
    return result;
  } catch (error) {
    console.error(`[step] ${node}: failed`, error instanceof Error ? error.message : error);
    throw error;
  }
}
