// Turning V8 coverage and CPU profiles into per-category numbers. Summaries are computed only after the
// phase's data was taken, so this code is never counted in a phase.

import fs from 'node:fs';

import { CATEGORIES, emptyCounts, packageOf, toPath } from './categorize.mjs';
import { originalPosition } from './source-map.mjs';

const SPECIAL_NODES = {
  '(garbage collector)': 'gc',
  '(idle)': 'idle',
  '(program)': 'program',
  '(root)': 'program',
};

function displayFile(url, info, stepsRoot) {
  if (!url) return '';
  if (url.startsWith('node:')) return url;
  const path = toPath(url);
  if (info.category === 'package') return path.slice(path.lastIndexOf('/node_modules/') + 1);
  if (stepsRoot && path.startsWith(stepsRoot)) return path.slice(stepsRoot.length).replace(/^\//, '');
  return path;
}

/** File and line to report; compiled step and shim code is mapped back to its TypeScript source. */
function location(url, info, stepsRoot, line, column, entries) {
  if ((info.category === 'step' || info.category === 'shim') && url && line) {
    const compiled = toPath(url);
    const orig = originalPosition(compiled, line, column, entries?.[compiled]);
    if (orig) return { file: displayFile(orig.file, {}, stepsRoot), line: orig.line };
  }
  return { file: displayFile(url, info, stepsRoot), line };
}

function lineAndColumn(text, offset) {
  let line = 1;
  let start = 0;
  for (let i = text.indexOf('\n'); i !== -1 && i < offset; i = text.indexOf('\n', i + 1)) {
    line += 1;
    start = i + 1;
  }
  return { line, column: offset - start };
}

const sourceCache = new Map();
function positionOf(url, offset) {
  if (!url || url.startsWith('node:')) return { line: null, column: 0 };
  let text = sourceCache.get(url);
  if (text === undefined) {
    try {
      text = fs.readFileSync(toPath(url), 'utf8');
    } catch {
      text = null;
    }
    sourceCache.set(url, text);
  }
  if (text === null) return { line: null, column: 0 };
  return lineAndColumn(text, offset);
}

/** Precise coverage (callCount + detailed) of one phase → counts by category, by package, top functions. */
export function summarizeCoverage(result, categorize, { topN = 15, stepsRoot, entries } = {}) {
  const calls = emptyCounts();
  const packages = {};
  const nodeBuckets = {};
  let uniqueFunctions = 0;
  const functions = [];
  for (const script of result) {
    const info = categorize(script.url);
    for (const fn of script.functions) {
      const count = fn.ranges[0]?.count ?? 0; // ranges[0] is the whole function; the rest are blocks
      if (count <= 0) continue;
      uniqueFunctions += 1;
      calls[info.category] += count;
      if (info.package) packages[info.package] = (packages[info.package] ?? 0) + count;
      if (info.bucket) nodeBuckets[info.bucket] = (nodeBuckets[info.bucket] ?? 0) + count;
      if (info.category !== 'harness') {
        functions.push({ url: script.url, name: fn.functionName, offset: fn.ranges[0].startOffset, count, info });
      }
    }
  }
  functions.sort((a, b) => b.count - a.count || a.url.localeCompare(b.url) || a.offset - b.offset);
  const topFunctions = functions.slice(0, topN).map((f) => {
    const pos = positionOf(f.url, f.offset);
    return {
      name: f.name || '(anonymous)',
      category: f.info.category,
      package: f.info.package ?? null,
      ...location(f.url, f.info, stepsRoot, pos.line, pos.column, entries),
      calls: f.count,
      selfMs: null,
    };
  });
  const totalCalls = CATEGORIES.reduce((acc, c) => acc + calls[c], 0);
  return { calls, packages, nodeBuckets, uniqueFunctions, totalCalls, topFunctions };
}

/** CPU profile of one phase → samples, self time by category and package, top functions by self time. */
export function summarizeCpuProfile(profile, categorize, { topN = 15, stepsRoot, entries } = {}) {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const selfUs = new Map();
  const { samples = [], timeDeltas = [] } = profile;
  for (let i = 0; i < samples.length; i++) {
    // Sample i lasts until the next one; the last one until the profile's end.
    const dt = i + 1 < timeDeltas.length ? timeDeltas[i + 1] : Math.max(0, profile.endTime - (profile.startTime + timeDeltas.reduce((a, b) => a + b, 0)));
    selfUs.set(samples[i], (selfUs.get(samples[i]) ?? 0) + dt);
  }
  const selfMs = { ...emptyCounts(), gc: 0, idle: 0, program: 0 };
  const packages = {};
  const perFunction = new Map();
  let hitCount = 0;
  for (const [id, us] of selfUs) {
    const node = byId.get(id);
    if (!node) continue;
    const frame = node.callFrame;
    const special = SPECIAL_NODES[frame.functionName] && !frame.url ? SPECIAL_NODES[frame.functionName] : null;
    const info = special ? { category: special } : categorize(frame.url);
    selfMs[info.category] = (selfMs[info.category] ?? 0) + us / 1000;
    if (info.package) packages[info.package] = (packages[info.package] ?? 0) + us / 1000;
    hitCount += node.hitCount ?? 0;
    if (special || info.category === 'harness') continue;
    const key = `${frame.url}:${frame.lineNumber}:${frame.columnNumber}:${frame.functionName}`;
    const prev = perFunction.get(key);
    if (prev) prev.us += us;
    else perFunction.set(key, { frame, info, us });
  }
  const topFunctions = [...perFunction.values()]
    .sort((a, b) => b.us - a.us)
    .slice(0, topN)
    .map(({ frame, info, us }) => ({
      name: frame.functionName || '(anonymous)',
      category: info.category,
      package: info.package ?? null,
      ...location(frame.url, info, stepsRoot, frame.lineNumber >= 0 ? frame.lineNumber + 1 : null, frame.columnNumber,
        entries),
      calls: null,
      selfMs: Math.round(us) / 1000,
    }));
  const intervals = timeDeltas.slice(1).sort((a, b) => a - b);
  const medianInterval = intervals.length ? intervals[Math.floor(intervals.length / 2)] : null;
  return {
    samples: samples.length,
    hitCount,
    sampleIntervalUs: medianInterval,
    selfMs: Object.fromEntries(Object.entries(selfMs).map(([k, v]) => [k, Math.round(v * 1000) / 1000])),
    packageSelfMs: Object.fromEntries(Object.entries(packages).map(([k, v]) => [k, Math.round(v * 1000) / 1000])),
    uniqueFunctions: perFunction.size,
    topFunctions,
  };
}

export { packageOf };
