// Loading a compiled step and finding its exported function, with errors that say what is wrong.
import { pathToFileURL } from 'node:url';

export class StepLoadError extends Error {
  constructor(kind, message) {
    super(message);
    this.kind = kind; // 'load' | 'export'
  }
}

export async function importStep(compiledPath) {
  try {
    return await import(pathToFileURL(compiledPath).href);
  } catch (err) {
    throw new StepLoadError('load', `cannot import step module: ${err?.stack?.split('\n').slice(0, 3).join(' | ') ?? err}`);
  }
}

export function stepFunction(mod, exportName) {
  const fn = mod?.[exportName];
  if (typeof fn !== 'function') {
    const names = Object.keys(mod ?? {}).filter((k) => typeof mod[k] === 'function');
    throw new StepLoadError(
      'export',
      `export "${exportName}" ${fn === undefined ? 'not found' : 'is not a function'}; the module exports functions: ${names.join(', ') || '(none)'}`,
    );
  }
  return fn;
}

/** Replace {{stub}} in every string of a JSON-like value. */
export function fillPlaceholders(value, vars) {
  if (typeof value === 'string') return value.replace(/\{\{(\w+)\}\}/g, (m, k) => (k in vars ? vars[k] : m));
  if (Array.isArray(value)) return value.map((v) => fillPlaceholders(v, vars));
  if (value && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, fillPlaceholders(v, vars)]));
  }
  return value;
}
