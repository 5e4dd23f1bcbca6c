// The platform's own executor (`--executor platform`): attribution in the platform's terms, and the step
// boundary hook. The executor, its db layer and every step module are compiled as separate modules (see
// compile.mjs `separate`), so a script's URL tells whose code it is:
//   database        the db packages (drizzle-orm, pg, postgres and their parts) and the checkout's db folders
//   step_functions  step modules and helpers, and the packages they import
//   executor        the executor bundle and every other platform module, and the packages only they import
//   external_api    Node's HTTP/TLS/DNS client stack (fetch's undici included) while a step runs
//   node_internals  every other node: script
//   other           code without a file outside steps, packages no platform module imports directly

import fs from 'node:fs';
import path from 'node:path';

import { packageOf, toPath } from './categorize.mjs';

export const BOUNDARY_HOOK = Symbol.for('wfprof.stepBoundary');
const DB_PACKAGES = /^(drizzle-orm|pg|pg-.+|pgpass|postgres|postgres-.+|@neondatabase\/.+|@vercel\/postgres)$/;
// Not node:net / stream: the database's socket goes through those too.
const CLIENT_STACK = /^node:(internal\/deps\/undici|_http|http|https|tls|_tls|dns|internal\/(http|tls|dns|url))/;
const IMPORTED_PACKAGE = /node_modules\/((?:@[^/"'\s]+\/)?[^/"'\s]+)\//g;

const withSlash = (dir) => (dir && !dir.endsWith('/') ? `${dir}/` : dir);

function packagesIn(file) {
  const found = new Set();
  let text = '';
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch {
    return found;
  }
  for (const m of text.matchAll(IMPORTED_PACKAGE)) found.add(m[1]);
  return found;
}

/**
 * @param {object} ex  the job's executor section: entry, shimDir, stepModules (rel), databasePaths (rel
 *                     prefixes), stepsRoot, harnessDir
 * @returns {(kind: string, url: string) => string} a category, or 'harness' (excluded from the totals)
 */
export function platformCategorizer({ entry, shimDir, stepModules, databasePaths, stepsRoot, harnessDir }) {
  const shims = withSlash(shimDir);
  const root = withSlash(stepsRoot);
  const harness = withSlash(harnessDir);
  const steps = new Set(stepModules);
  const isDb = (rel) => databasePaths.some((p) => (p.endsWith('/') ? rel.startsWith(p) : rel === p));
  // Which module a compiled file stands for: `<shimDir>/<rel>.mjs` (compile.mjs outPath).
  const relOf = (file) => (file.startsWith(shims) ? file.slice(shims.length).replace(/\.mjs$/, '') : null);
  const stepPackages = new Set();
  const executorPackages = new Set(packagesIn(entry));
  for (const file of walk(shimDir)) {
    const target = steps.has(relOf(file)) ? stepPackages : executorPackages;
    for (const pkg of packagesIn(file)) target.add(pkg);
  }
  const cache = new Map();
  const byFile = (url) => {
    const file = toPath(url);
    const pkg = packageOf(file);
    if (pkg) {
      if (DB_PACKAGES.test(pkg)) return 'database';
      return { pkg };
    }
    if (harness && file.startsWith(harness)) return 'harness';
    if (file === entry) return 'executor';
    const rel = relOf(file) ?? (root && file.startsWith(root) ? file.slice(root.length) : null);
    if (rel === null) return 'other';
    if (isDb(rel)) return 'database';
    if (steps.has(rel)) return 'step_functions';
    return 'executor';
  };
  return (kind, url) => {
    if (!url) return kind === 'step' ? 'step_functions' : 'other';
    if (url.startsWith('node:')) return kind === 'step' && CLIENT_STACK.test(url) ? 'external_api' : 'node_internals';
    let hit = cache.get(url);
    if (hit === undefined) {
      hit = byFile(url);
      cache.set(url, hit);
    }
    if (typeof hit === 'string') return hit;
    // A package: by who imports it; one both sides import goes with the segment it runs in.
    const inStep = stepPackages.has(hit.pkg);
    const inExecutor = executorPackages.has(hit.pkg);
    if (inStep && (kind === 'step' || !inExecutor)) return 'step_functions';
    if (inExecutor) return 'executor';
    return kind === 'step' ? 'step_functions' : 'other';
  };
}

function* walk(dir) {
  let entries = [];
  try {
    entries = fs.readdirSync(dir, { withFileTypes: true });
  } catch {
    return;
  }
  for (const e of entries) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) yield* walk(p);
    else if (e.name.endsWith('.mjs')) yield p;
  }
}

/** What to tell the user when the executor cannot be imported: a missing variable is named, with the fix. */
export function importErrorMessage(err, module) {
  const message = err?.message ?? String(err);
  const named = /\b([A-Z][A-Z0-9]*_[A-Z0-9_]+|[A-Z]{4,})\b/.exec(message);
  const aboutEnv = /env|environment|variable|not set|missing|required|undefined/i.test(message);
  let hint = '';
  if (aboutEnv && named) {
    hint = `; set ${named[1]} for profiling in the registry's [executor] env table (env = { ${named[1]} = "…" })`;
  } else if (aboutEnv) {
    hint = '; if it needs an environment variable, set it in the registry\'s [executor] env table';
  }
  return `the platform's executor ${module} failed at import: ${message}${hint}`;
}
