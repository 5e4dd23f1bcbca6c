#!/usr/bin/env node
// Profile workflow steps in this (fresh) Node process and print ONE JSON document on stdout.
//
//   node [--expose-gc] [--max-old-space-size=MB] profile-step.mjs < job.json
//
// job: { mode: "precise" | "sampling" | "timing", phases: ["import", "execute"],
//        samplingIntervalUs, settleTimeoutMs, topN, stepsRoot, shimDir,
//        steps: [{ id, compiled, source, export, input, env, responses }], stub? }
// Normally one step per process: a later step in the same process reuses the module cache of earlier
// ones (up to 98 % fewer import calls), so several steps per job exist only to demonstrate that.
//
// Order matters: start the stub (worker thread), prewarm Node's lazy internals, install the egress
// guard and redirect console to stderr BEFORE measuring, so none of it is charged to the step.
// Phases: import = `import(step)` (cold start); execute = the first `await fn(input)` on canned I/O (the
// cold execution: lazy initialisation, first use of undici, …); execute_warm = `warmRuns` more executions in
// the same process, as a worker that imported the step runs them (each measured on its own, summarized as
// the per-execution median).

import { Console } from 'node:console';
import fs from 'node:fs';
import { Session } from 'node:inspector/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { makeCategorizer } from './lib/categorize.mjs';
import { installEgressGuard } from './lib/egress.mjs';
import { installHostRouting } from './lib/host-routing.mjs';
import { summarizeCoverage, summarizeCpuProfile } from './lib/measure.mjs';
import { fillPlaceholders, importStep, StepLoadError, stepFunction } from './lib/step-loader.mjs';
import { writeAllSync } from './lib/write-sync.mjs';

const HARNESS_DIR = path.dirname(fileURLToPath(import.meta.url));
const MODES = new Set(['precise', 'sampling', 'timing']);
const DATABASE_PORTS = new Set([5432, 3306, 6379, 27017, 26257, 1433]); // postgres, mysql, redis, mongo, cockroach, mssql

const job = JSON.parse(fs.readFileSync(0, 'utf8'));
const mode = job.mode ?? 'precise';
if (!MODES.has(mode)) throw new Error(`unknown mode ${mode}`);
const phases = job.phases ?? ['import', 'execute'];
const settleTimeoutMs = job.settleTimeoutMs ?? 20_000;
const topN = job.topN ?? 15;
const warmRuns = Math.max(0, job.warmRuns ?? 0);
const stepsRoot = job.stepsRoot ? path.resolve(job.stepsRoot) : undefined;

const doc = {
  harness: 'wfprof-profile-step',
  version: 1,
  node: process.version,
  v8: process.versions.v8,
  mode,
  pid: process.pid,
  steps: [],
};
let current = null; // the step outcome being measured
let currentPhase = '';
let written = false;

const clip = (text, max = 600) => (text && text.length > max ? `${text.slice(0, max)}…` : text);

function writeDoc() {
  if (written) return;
  written = true;
  for (const s of doc.steps) s.error = clip(s.error);
  // On a line of its own, even if the step wrote to process.stdout without a final newline.
  writeAllSync(1, `\n${JSON.stringify(doc)}\n`);
}

// A step that calls process.exit() still gets its row: whatever was measured, plus the reason.
process.on('exit', (code) => {
  if (!written && current && !current.error) {
    current.error = `step called process.exit(${code}) during the ${currentPhase} phase`;
    current.errorKind = 'exit';
    current.ok = false;
  }
  writeDoc();
});

// Errors that escape the step (a floating promise that rejects, a throw in a timer) end its phase.
let abortPhase = null;
const escaped = (label) => (err) => {
  const message = `${label}: ${err?.stack?.split('\n').slice(0, 2).join(' | ') ?? err}`;
  if (abortPhase) abortPhase(new PhaseAbort('uncaught', message));
  else if (current && !current.error) Object.assign(current, { ok: false, error: message, errorKind: 'uncaught' });
};
process.on('uncaughtException', escaped('uncaught exception'));
process.on('unhandledRejection', escaped('unhandled rejection'));

class PhaseAbort extends Error {
  constructor(kind, message) {
    super(message);
    this.kind = kind;
  }
}

// --- set-up that must not be measured -------------------------------------------------------------
// The stub's worker thread boots while this thread prewarms; steps without canned responses need none
// (any request they make is then blocked as egress).
// With `job.stub` ({url, port}: a shared stub process, see serve-stub.mjs) no stub runs here at all.
const usesNetwork = job.steps.some((s) => s.responses?.length);
const stubStarting =
  !job.stub && usesNetwork ? import('./lib/stub-server.mjs').then((m) => m.startStubWorker([])) : null;
process.setSourceMapsEnabled?.(false); // an Error.stack must not decode source maps inside a phase
if (usesNetwork) {
  // The first fetch in a process compiles Node's bundled undici (~5K calls, a varying number): do it
  // here. Steps without canned responses cannot reach the network at all, so they skip this.
  void globalThis.fetch;
  new Response('x');
  new Request('http://127.0.0.1/');
  await import('node:https');
  await import('node:zlib');
}
const stub = stubStarting ? await stubStarting : null;
const stubPort = job.stub?.port ?? stub?.port ?? 0;
const guard = installEgressGuard({ allowPorts: [stubPort], phase: () => currentPhase });
// One step per process in practice: its routed hosts (canned responses with `host`) go to its stub port.
installHostRouting({ hosts: [...new Set(job.steps.flatMap((s) => s.hostRoutes ?? []))], port: stubPort });
globalThis.console = new Console({ stdout: process.stderr, stderr: process.stderr }); // stdout = our document
const gc = globalThis.gc;
const session = new Session();
session.connect();
await session.post('Profiler.enable');
if (mode === 'precise') await session.post('Profiler.startPreciseCoverage', { callCount: true, detailed: true });
if (mode === 'sampling') await session.post('Profiler.setSamplingInterval', { interval: job.samplingIntervalUs ?? 100 });

const stepFiles = job.steps.map((s) => s.compiled).filter(Boolean);
const categorize = makeCategorizer({ stepFiles, shimDir: job.shimDir, harnessDir: HARNESS_DIR, stepsRoot });
const entries = Object.fromEntries(job.steps.filter((s) => s.source).map((s) => [s.compiled, s.source]));

/** Run one phase under the mode's instrument; returns { value, error, raw, durationMs, heap }. */
async function measure(thunk, { bounded }) {
  let timer;
  const guards = [];
  if (bounded) {
    guards.push(
      new Promise((_, reject) => {
        timer = setTimeout(() => reject(new PhaseAbort('timeout', `step did not settle within ${settleTimeoutMs} ms`)), settleTimeoutMs);
      }),
    );
  }
  guards.push(new Promise((_, reject) => (abortPhase = reject)));
  const out = { value: undefined, error: null, raw: null, durationMs: null, heapBefore: null, heapAfter: null, cpuMs: null };
  if (mode === 'timing') {
    gc?.();
    out.heapBefore = process.memoryUsage().heapUsed;
  } else if (mode === 'precise') {
    await session.post('Profiler.takePreciseCoverage'); // reset the counters
  } else {
    await session.post('Profiler.start');
  }
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  try {
    out.value = await Promise.race([thunk(), ...guards]);
  } catch (err) {
    out.error = err;
  }
  const t1 = performance.now();
  const cpu = process.cpuUsage(cpu0); // user + system µs of this process (the stub runs in another)
  out.durationMs = t1 - t0;
  out.cpuMs = (cpu.user + cpu.system) / 1000;
  // epoch ms: a shared stub process timestamps requests the same way, so they can be split by phase
  out.startedAt = performance.timeOrigin + t0;
  out.endedAt = performance.timeOrigin + t1;
  if (mode === 'precise') out.raw = (await session.post('Profiler.takePreciseCoverage')).result;
  else if (mode === 'sampling') out.raw = (await session.post('Profiler.stop')).profile;
  else {
    gc?.();
    out.heapAfter = process.memoryUsage().heapUsed;
  }
  clearTimeout(timer);
  abortPhase = null;
  return out;
}

function phaseSummary(measured) {
  const base = {
    durationMs: Math.round(measured.durationMs * 1000) / 1000,
    startedAt: measured.startedAt,
    endedAt: measured.endedAt,
    calls: null,
    packages: {},
    nodeBuckets: {},
    uniqueFunctions: null,
    totalCalls: null,
    samples: null,
    hitCount: null,
    sampleIntervalUs: null,
    selfMs: null,
    heapDeltaBytes: null,
    cpuMs: mode === 'timing' ? Math.round(measured.cpuMs * 1000) / 1000 : null,
    topFunctions: [],
  };
  if (mode === 'precise') return { ...base, ...summarizeCoverage(measured.raw, categorize, { topN, stepsRoot, entries }) };
  if (mode === 'sampling') {
    const s = summarizeCpuProfile(measured.raw, categorize, { topN, stepsRoot, entries });
    return { ...base, ...s, packages: s.packageSelfMs };
  }
  return { ...base, heapDeltaBytes: gc ? measured.heapAfter - measured.heapBefore : null };
}

function describeError(err) {
  if (err instanceof PhaseAbort || err instanceof StepLoadError) return { kind: err.kind, message: err.message };
  const text = err?.stack ? err.stack.split('\n').slice(0, 3).join(' | ') : String(err);
  return { kind: 'throw', message: `step threw: ${text}` };
}

/** A step's `error` as text: a string, an Error or `{ message, code }` object (never "[object Object]"). */
function errorText(error) {
  if (error == null) return '';
  if (typeof error === 'string') return error;
  if (typeof error === 'object') {
    const message = typeof error.message === 'string' ? error.message : null;
    const code = error.code ?? error.name;
    if (message) return code && typeof code !== 'object' && !message.includes(String(code)) ? `${message} (${code})` : message;
    try {
      return JSON.stringify(error);
    } catch {
      return String(error);
    }
  }
  return String(error);
}

/** The warm executions as one phase: the median run's breakdown, each run's deterministic count, the spread. */
function warmSummary(runs) {
  const median = (xs) => {
    const v = [...xs].sort((a, b) => a - b);
    return v.length ? (v.length % 2 ? v[(v.length - 1) / 2] : (v[v.length / 2 - 1] + v[v.length / 2]) / 2) : null;
  };
  const key = (r) => (r.calls ? r.calls.step + r.calls.package : r.durationMs);
  const sorted = [...runs].sort((a, b) => key(a) - key(b));
  const mid = sorted[Math.floor((sorted.length - 1) / 2)];
  const durations = runs.map((r) => r.durationMs);
  return {
    ...mid,
    durationMs: median(durations),
    durationMsMin: Math.min(...durations),
    durationMsMax: Math.max(...durations),
    cpuMs: mode === 'timing' ? median(runs.map((r) => r.cpuMs)) : null,
    startedAt: runs[0].startedAt,
    endedAt: runs[runs.length - 1].endedAt,
    warmRuns: runs.length,
    runsOwnPackages: runs.map((r) => (r.calls ? r.calls.step + r.calls.package : null)),
    runsTotalCalls: runs.map((r) => r.totalCalls),
  };
}

function resultSummary(value) {
  let text;
  try {
    text = JSON.stringify(value, (_, v) => (typeof v === 'bigint' ? v.toString() : v));
  } catch {
    text = String(value);
  }
  return text === undefined ? null : text.length > 500 ? `${text.slice(0, 500)}…` : text;
}

for (const spec of job.steps) {
  const outcome = { id: spec.id, ok: true, error: null, errorKind: null, result: null, phases: {}, io: {}, egressBlocked: [] };
  doc.steps.push(outcome);
  current = outcome;
  const vars = { stub: job.stub?.url ?? stub?.url ?? 'http://127.0.0.1:0' };
  const blockedBefore = guard.blocked.length;
  for (const [k, v] of Object.entries(fillPlaceholders(spec.env ?? {}, vars))) process.env[k] = String(v);
  const input = fillPlaceholders(spec.input ?? {}, vars);
  await stub?.setRoutes(fillPlaceholders(spec.responses ?? [], vars));
  const takeLog = async () => (stub ? stub.takeLog() : []);

  let fn = null;
  if (phases.includes('import')) {
    currentPhase = 'import';
    const m = await measure(() => importStep(spec.compiled), { bounded: false });
    outcome.phases.import = phaseSummary(m);
    outcome.io.import = await takeLog();
    if (m.error) {
      const e = describeError(m.error);
      Object.assign(outcome, { ok: false, error: e.message, errorKind: e.kind });
    } else if (spec.export) { // no export: import only (the platform baseline)
      try {
        fn = stepFunction(m.value, spec.export);
      } catch (err) {
        const e = describeError(err);
        Object.assign(outcome, { ok: false, error: e.message, errorKind: e.kind });
      }
    }
  }
  if (fn && phases.includes('execute')) {
    currentPhase = 'execute';
    const m = await measure(() => fn(input), { bounded: true });
    outcome.phases.execute = phaseSummary(m);
    outcome.io.execute = await takeLog();
    if (m.error) {
      const e = describeError(m.error);
      Object.assign(outcome, { ok: false, error: e.message, errorKind: e.kind });
    } else {
      outcome.result = resultSummary(m.value);
      // KeeperHub steps report failures as { success: false, error } rather than throwing.
      if (m.value && typeof m.value === 'object' && m.value.success === false && !outcome.error) {
        Object.assign(outcome, { ok: false, error: `step returned success=false: ${errorText(m.value.error)}`, errorKind: 'failed_result' });
      }
    }
  }
  // Warm executions: only after a cold execution that succeeded, each with a fresh copy of the input and
  // the canned responses' state reset.
  // A cold execution that reached for the network is already a failure: no warm runs to repeat it.
  if (fn && outcome.ok && phases.includes('execute') && warmRuns > 0 && guard.blocked.length === blockedBefore) {
    currentPhase = 'execute_warm';
    const runs = [];
    const io = [];
    for (let i = 1; i <= warmRuns; i += 1) {
      await stub?.setRoutes(fillPlaceholders(spec.responses ?? [], vars));
      const fresh = fillPlaceholders(spec.input ?? {}, vars);
      const m = await measure(() => fn(fresh), { bounded: true });
      runs.push(phaseSummary(m));
      io.push(...(await takeLog()));
      const failed = m.error ? describeError(m.error).message
        : m.value && typeof m.value === 'object' && m.value.success === false ? `returned success=false: ${errorText(m.value.error)}` : null;
      if (failed) {
        Object.assign(outcome, { ok: false, error: `warm execution ${i} of ${warmRuns} failed (the cold one succeeded): ${failed}`, errorKind: 'warm_failed' });
        break;
      }
    }
    if (outcome.ok) {
      outcome.phases.execute_warm = warmSummary(runs);
      outcome.io.execute_warm = io;
    }
  }
  currentPhase = '';
  outcome.egressBlocked = guard.blocked.slice(blockedBefore);
  if (outcome.egressBlocked.length) {
    const targets = [...new Set(outcome.egressBlocked.map((b) => b.target))];
    // A database port means platform code opened its database connection: a shim is the fix, not a response.
    const isDatabase = (t) => DATABASE_PORTS.has(Number(String(t).split(':').pop()));
    const db = targets.filter(isDatabase);
    const hosts = targets.filter((t) => !isDatabase(t));
    const notes = [];
    if (db.length) notes.push(`blocked a database connection to ${db.join(', ')} (platform code opened its database: shim that module in the registry)`);
    if (hosts.length) notes.push(`blocked network egress to ${hosts.join(', ')} (no canned response for that host: add responses with host = "…" in the registry)`);
    const note = notes.join('; ');
    outcome.ok = false;
    outcome.error = outcome.error ? `${note}; ${outcome.error}` : note;
    outcome.errorKind = 'egress';
  }
  // (with a shared stub, Python collects the requests and checks them)
  const unmatched = Object.values(outcome.io).flat().filter((r) => !r.matched);
  if (unmatched.length && outcome.ok) {
    outcome.ok = false;
    outcome.errorKind = 'unmatched_request';
    outcome.error = `no canned response for ${unmatched.map((r) => `${r.method} ${r.path}${r.rpcMethods.length ? ` [${r.rpcMethods.join(',')}]` : ''}`).join('; ')}`;
  }
  current = null;
}

writeDoc();
// Steps may leave keep-alive sockets, pollers or timers behind: the process ends here, on purpose.
process.exit(0);
