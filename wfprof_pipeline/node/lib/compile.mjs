// Compile step modules (TypeScript or JavaScript) to ESM with esbuild, ahead of profiling, so the
// profiled process runs plain `node` (no tsx: no loader thread, no source maps, no require hooks).
//
// - The step file, its relative imports and anything behind a registry *alias* are bundled into one
//   compiled file: that is the step's own code.
// - Registry *shims* are compiled to their own files under <outDir>/shims and imported from there, so
//   their calls are told apart from the step's.
// - npm packages stay external, imported by their resolved absolute path in the corpus's node_modules
//   (Node's own resolution: "node" + "import" conditions, "main" field), so each package's calls are
//   attributed to node_modules/<package> exactly as when the step runs in the app.

import fs from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';

import * as esbuild from 'esbuild';

const EXTENSIONS = ['.ts', '.tsx', '.mts', '.cts', '.js', '.mjs', '.cjs', '.jsx'];

/** Targets of the most specific pattern that matches (as TypeScript picks among `paths`); [] if none. */
function matchPattern(patterns, specifier) {
  let best = null;
  for (const [pattern, target] of Object.entries(patterns ?? {})) {
    const targets = Array.isArray(target) ? target : [target];
    if (pattern.includes('*')) {
      const [prefix, suffix] = pattern.split('*', 2);
      if (specifier.startsWith(prefix) && specifier.endsWith(suffix) && specifier.length >= prefix.length + suffix.length) {
        const star = specifier.slice(prefix.length, specifier.length - suffix.length);
        if (!best || prefix.length > best.prefix) best = { prefix: prefix.length, targets: targets.map((t) => t.replace('*', star)) };
      }
    } else if (pattern === specifier) {
      return targets;
    }
  }
  return best ? best.targets : [];
}

function resolveFile(base) {
  const candidates = [base, ...EXTENSIONS.map((e) => base + e), ...EXTENSIONS.map((e) => path.join(base, `index${e}`))];
  return candidates.find((c) => fs.existsSync(c) && fs.statSync(c).isFile()) ?? null;
}

const isBare = (s) => !s.startsWith('.') && !s.startsWith('/') && !s.startsWith('node:') && !s.startsWith('file:');

function outPath(outDir, kind, rel) {
  // Files outside the root (absolute or ../ paths) still land inside <outDir>/<kind>. The source's
  // extension stays in the name: a.ts and a.js in one folder are two steps, not one compiled file.
  const inside = path.normalize(rel).split(path.sep).filter((p) => p && p !== '..').join(path.sep);
  return path.join(outDir, kind, `${inside}.mjs`);
}

/**
 * @param {object} opts
 * @param {string} opts.root        corpus root (registry paths are relative to it)
 * @param {string} opts.outDir      where compiled files go
 * @param {string[]} opts.modules   step files relative to root
 * @param {Record<string,string>} [opts.shims]    specifier (exact or prefix/*) -> file relative to root
 * @param {Record<string,string>} [opts.aliases]  specifier pattern -> path relative to root
 * @param {string[]} [opts.separate]  files (or folders ending in /) relative to root that are compiled as
 *        modules of their own, however they are imported (relative or alias), so each keeps its own URL and
 *        one instance is shared by every importer (the platform's executor, its db layer and its steps)
 * @param {Record<string,string>} [opts.replace]  file relative to root -> file compiled in its place
 *        (a wrapper); the wrapper reaches the real file by importing `<absolute path>?wfprof-real`
 * @returns {Promise<{modules: Record<string,{compiled?: string, error?: string}>, shims: Record<string,{compiled?: string, error?: string}>, shimDir: string}>}
 */
export async function compileSteps({ root, outDir, modules, shims = {}, aliases = {}, separate = [], replace = {} }) {
  root = path.resolve(root);
  outDir = path.resolve(outDir);
  const shimDir = path.join(outDir, 'shims');
  const shimSources = new Map(); // source abs path -> compiled abs path
  const result = { modules: {}, shims: {}, shimDir };
  const usedShims = new Map(); // module rel or shim source -> Set of shim sources it imports
  let building = null; // key of the build in progress (builds run one at a time)
  const REAL = '?wfprof-real';
  const isSeparate = (rel) => separate.some((s) => (s.endsWith('/') ? rel.startsWith(s) : rel === s));
  const external = (source) => {
    const compiled = outPath(outDir, 'shims', path.relative(root, source));
    shimSources.set(source, compiled);
    if (!usedShims.has(building)) usedShims.set(building, new Set());
    usedShims.get(building).add(source);
    return { path: pathToFileURL(compiled).href, external: true };
  };
  /** A separate (or replaced) file of the checkout is imported as its own compiled module. */
  const separated = (spec, resolveDir) => {
    if (!separate.length && !Object.keys(replace).length) return undefined;
    const real = spec.endsWith(REAL);
    const bare = real ? spec.slice(0, -REAL.length) : spec;
    let source = null;
    if (!isBare(bare) || path.isAbsolute(bare)) source = resolveFile(path.resolve(resolveDir, bare));
    else {
      const targets = matchPattern(aliases, bare);
      source = targets.map((t) => resolveFile(path.resolve(root, t))).find(Boolean) ?? null;
    }
    if (!source) return undefined;
    const rel = path.relative(root, source);
    if (!real && replace[rel]) return external(path.resolve(root, replace[rel]));
    if (real || isSeparate(rel)) return source === building ? undefined : external(source);
    return undefined;
  };

  const plugin = {
    name: 'wfprof-resolve',
    setup(build) {
      build.onResolve({ filter: /.*/ }, async (args) => {
        if (args.kind === 'entry-point' || args.pluginData?.wfprofInner) return undefined;
        const spec = args.path;
        const [shim] = matchPattern(shims, spec);
        if (shim !== undefined) {
          const source = resolveFile(path.resolve(root, shim));
          if (!source) return { errors: [{ text: `shim for "${spec}" not found: ${shim}` }] };
          const compiled = outPath(outDir, 'shims', path.relative(root, source));
          shimSources.set(source, compiled);
          if (!usedShims.has(building)) usedShims.set(building, new Set());
          usedShims.get(building).add(source);
          return { path: pathToFileURL(compiled).href, external: true }; // URLs survive spaces and '#'
        }
        if (!spec.startsWith('node:')) {
          const split = separated(spec, args.resolveDir || root);
          if (split) return split;
        }
        const targets = matchPattern(aliases, spec);
        if (targets.length) {
          const source = targets.map((t) => resolveFile(path.resolve(root, t))).find(Boolean);
          if (!source) return { errors: [{ text: `"${spec}" (alias to ${targets.join(' | ')}) not found` }] };
          return { path: source };
        }
        if (isBare(spec)) {
          const resolved = await build.resolve(spec, {
            kind: args.kind,
            resolveDir: args.resolveDir,
            importer: args.importer,
            pluginData: { wfprofInner: true },
          });
          if (resolved.errors.length) return { errors: resolved.errors };
          if (resolved.external) return { path: spec, external: true };
          return { path: pathToFileURL(resolved.path).href, external: true };
        }
        return undefined;
      });
    },
  };

  const options = (entry, outfile) => ({
    entryPoints: [entry],
    outfile,
    bundle: true,
    format: 'esm',
    platform: 'node',
    target: 'node20',
    conditions: [], // Node's conditions only (esbuild would add "module")
    mainFields: ['main'], // Node ignores the "module" field
    sourcemap: 'external', // <out>.map for reporting lines; no sourceMappingURL, so Node never loads it
    // Shims and modules kept outside the checkout (beside a registry) resolve packages from the checkout.
    nodePaths: [path.join(root, 'node_modules')],
    logLevel: 'silent',
    write: true,
    plugins: [plugin],
  });

  const errorText = (err) =>
    err.errors?.length ? err.errors.map((e) => (e.location ? `${e.location.file}:${e.location.line}: ${e.text}` : e.text)).join('; ') : String(err.message ?? err);

  for (const rel of modules) {
    const source = path.resolve(root, rel);
    if (!fs.existsSync(source)) {
      result.modules[rel] = { error: `module ${rel} not found under ${root}` };
      continue;
    }
    const compiled = outPath(outDir, 'steps', rel);
    building = rel;
    try {
      await esbuild.build(options(source, compiled));
      result.modules[rel] = { compiled };
    } catch (err) {
      result.modules[rel] = { error: `cannot compile ${rel}: ${errorText(err)}` };
    }
  }
  // Shims found while compiling steps (and shims of shims).
  const done = new Set();
  while (done.size < shimSources.size) {
    for (const [source, compiled] of [...shimSources]) {
      if (done.has(source)) continue;
      done.add(source);
      const rel = path.relative(root, source);
      building = source;
      try {
        await esbuild.build(options(source, compiled));
        result.shims[rel] = { compiled };
      } catch (err) {
        result.shims[rel] = { error: `cannot compile shim ${rel}: ${errorText(err)}` };
      }
    }
  }
  // A shim that fails fails only the steps that import it (directly or through another shim).
  const shimError = (source, seen = new Set()) => {
    if (seen.has(source)) return null;
    seen.add(source);
    const own = result.shims[path.relative(root, source)]?.error;
    if (own) return own;
    for (const next of usedShims.get(source) ?? []) {
      const e = shimError(next, seen);
      if (e) return e;
    }
    return null;
  };
  for (const rel of modules) {
    if (result.modules[rel]?.error) continue;
    for (const source of usedShims.get(rel) ?? []) {
      const e = shimError(source);
      if (e) {
        result.modules[rel] = { error: e };
        break;
      }
    }
  }
  await esbuild.stop?.();
  return result;
}
