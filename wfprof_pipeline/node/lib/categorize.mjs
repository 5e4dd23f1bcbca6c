// Attribute V8 script URLs to categories: the step's own code, npm packages (per package), Node
// internals, the harness, registry shims, or other (eval / new Function / node:vm / wasm code).
//
// V8 URLs in Node 20: ESM `file:///abs/x.mjs`, CJS `/abs/x.js`, internals `node:internal/...`,
// eval'd code "" (or the filename passed to node:vm).

import { fileURLToPath } from 'node:url';

export const CATEGORIES = ['step', 'package', 'node', 'harness', 'shim', 'other'];

export function toPath(url) {
  return url.startsWith('file://') ? fileURLToPath(url) : url;
}

/** Package of a path: the segment after the LAST /node_modules/ (handles nesting and @scope/name). */
export function packageOf(path) {
  const i = path.lastIndexOf('/node_modules/');
  if (i < 0) return null;
  const rest = path.slice(i + '/node_modules/'.length).split('/');
  return rest[0].startsWith('@') ? `${rest[0]}/${rest[1]}` : rest[0];
}

/** Sub-bucket of Node internals worth naming: the bundled undici is what a fetch costs. */
export function nodeBucket(url) {
  if (url.startsWith('node:internal/deps/undici')) return 'undici';
  if (url.startsWith('node:internal/modules')) return 'module_loader';
  return 'other';
}

const withSlash = (dir) => (dir && !dir.endsWith('/') ? `${dir}/` : dir);

/**
 * @param {object} ctx
 * @param {Iterable<string>} ctx.stepFiles  absolute paths of the (compiled) step modules
 * @param {string} [ctx.shimDir]            compiled shims live here
 * @param {string} [ctx.harnessDir]         the harness package (its node_modules included)
 * @param {string} [ctx.stepsRoot]          the corpus root: other files under it count as the step's
 * @returns {(url: string) => {category: string, package?: string, bucket?: string}}
 */
export function makeCategorizer({ stepFiles, shimDir, harnessDir, stepsRoot }) {
  const steps = new Set(stepFiles);
  const shims = withSlash(shimDir);
  const harness = withSlash(harnessDir);
  const root = withSlash(stepsRoot);
  const cache = new Map();
  const classify = (url) => {
    if (!url || url.startsWith('data:') || url.startsWith('wasm://')) return { category: 'other' };
    if (url.startsWith('node:')) return { category: 'node', bucket: nodeBucket(url) };
    const path = toPath(url);
    if (steps.has(path)) return { category: 'step' };
    if (shims && path.startsWith(shims)) return { category: 'shim' };
    if (harness && path.startsWith(harness)) return { category: 'harness' };
    const pkg = packageOf(path);
    if (pkg) return { category: 'package', package: pkg };
    if (root && path.startsWith(root)) return { category: 'step' };
    return { category: 'other' };
  };
  return (url) => {
    let hit = cache.get(url);
    if (!hit) {
      hit = classify(url);
      cache.set(url, hit);
    }
    return hit;
  };
}

export function emptyCounts() {
  return Object.fromEntries(CATEGORIES.map((c) => [c, 0]));
}
