#!/usr/bin/env node
// Run one stored workflow the way KeeperHub's executor does, optionally under V8 profiling, and print ONE
// JSON document on stdout.
//
//   node run-workflow.mjs < job.json
//
// The job (lib/node_jobs.py WorkflowJob, sent by lib/workflows/runner.py) carries what Python resolved and
// checked (the workflow exists; an execution to run as is its pending one), how to run (databaseUrl, mode,
// executionId, workflowInput or inputs, repeat, detail, topN), the node order (graph.py), and per action
// type the compiled step, its export, default input, environment and canned responses (registry). This runner loads the workflow row itself, creates or takes over the
// execution row, writes one log row per node (running → success/error, duration in ms, progress on the
// execution), stops at the first failing node and marks the execution failed.
//
// Profiling: coverage (precise) or a CPU profile (sampling) is taken at every segment boundary, so each
// call lands in the segment that made it: database (connect, queries), each node's step (import + run),
// executor (input building, orchestration). Categories: database, step_functions, external_api (Node's
// HTTP/socket stack inside a step), executor (this runner), node_internals, other.
//
// With `job.executor` (`--executor platform`) the checkout's own executor runs instead (mainPlatform):
// the platform writes its rows through its own db client, calls are attributed by file
// (lib/platform-executor.mjs), and each call of its step boundary is one node's segment.

import { Console } from 'node:console';
import crypto from 'node:crypto';
import fs from 'node:fs';
import { Session } from 'node:inspector/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { makeCategorizer, packageOf, toPath } from './lib/categorize.mjs';
import { installEgressGuard } from './lib/egress.mjs';
import { installHostRouting } from './lib/host-routing.mjs';
import { BOUNDARY_HOOK, importErrorMessage, platformCategorizer } from './lib/platform-executor.mjs';
import { fillPlaceholders, importStep, stepFunction } from './lib/step-loader.mjs';
import { startStubWorker } from './lib/stub-server.mjs';
import { writeAllSync } from './lib/write-sync.mjs';

const HARNESS_DIR = path.dirname(fileURLToPath(import.meta.url));
export const CATEGORIES = ['database', 'step_functions', 'external_api', 'executor', 'node_internals', 'other'];
const truthy = (v) => /^(1|true|yes|on)$/i.test(String(v ?? '').trim());

// ---------------------------------------------------------------- configuration

class RunnerError extends Error {
  constructor(kind, message) {
    super(message);
    this.kind = kind;
  }
}

const job = JSON.parse(fs.readFileSync(0, 'utf8'));
const workflowId = job.workflowId;
const requestedExecutionId = job.executionId ?? null;
let databaseUrl = job.databaseUrl;
delete job.databaseUrl; // held in this module's scope only
const mode = job.mode ?? 'precise';
const detail = Boolean(job.detail);
const topN = Number.parseInt(job.topN ?? 15, 10) || 15;
// Several executions in one process (demo seeding): one per job.inputs entry, else job.repeat alike.
const jobInputs = Array.isArray(job.inputs) && job.inputs.length ? job.inputs : null;
const repeat = jobInputs ? jobInputs.length : Math.max(1, Number.parseInt(job.repeat ?? 1, 10) || 1);
const stepTimeoutMs = Number(job.stepTimeoutMs ?? 30_000);
const workflowInput = job.workflowInput ?? null;

const doc = { runner: 'wfprof-run-workflow', version: 1, node: process.version, mode, workflowId, runs: [], error: null, errorKind: null };
let written = false;
function writeDoc() {
  if (written) return;
  written = true;
  const text = `${JSON.stringify(doc)}\n`;
  writeAllSync(1, text); // one fs.writeSync may write only part of a large document to a pipe
}
process.on('exit', writeDoc);

// Steps log to the console; stdout is reserved for the document.
globalThis.console = new Console({ stdout: process.stderr, stderr: process.stderr });

// ---------------------------------------------------------------- profiling by segment

const session = mode === 'none' ? null : new Session();
let categorize = null;
let pendingSegment = null; // { kind: 'db'|'step'|'executor'|'harness', nodeId }
const segments = [];

// The platform's executor (job.executor) brings its own attribution (lib/platform-executor.mjs).
let categoryOf = wfprofCategoryOf;

function wfprofCategoryOf(kind, url) {
  if (kind === 'db') return 'database';
  // Code without a file inside a step is what the step evaluated (node:vm, new Function): the user's
  // code of a code step, so the step's work.
  if (!url) return kind === 'step' ? 'step_functions' : 'other';
  if (url.startsWith('node:')) {
    if (kind === 'step' && /^node:(internal\/deps\/undici|_http|http|https|net|tls|dns|internal\/(http|net|dns|tls|stream_base)|_tls)/.test(url)) {
      return 'external_api';
    }
    return 'node_internals';
  }
  const pkg = packageOf(toPath(url));
  if (pkg && /^(pg|pg-.*|pgpass|postgres-.*)$/.test(pkg) && toPath(url).startsWith(HARNESS_DIR)) return 'database';
  const info = categorize(url);
  if (info.category === 'harness') return 'executor';
  if (info.category === 'step' || info.category === 'package' || info.category === 'shim') return 'step_functions';
  return kind === 'step' ? 'step_functions' : 'other'; // e.g. a code step's `user-code.js` in node:vm
}

async function startProfiling() {
  if (!session) return;
  session.connect();
  await session.post('Profiler.enable');
  if (mode === 'precise') {
    await session.post('Profiler.startPreciseCoverage', { callCount: true, detailed: true });
    await session.post('Profiler.takePreciseCoverage'); // reset: nothing before this is counted
  } else {
    await session.post('Profiler.setSamplingInterval', { interval: Number(job.samplingIntervalUs ?? 100) });
    await session.post('Profiler.start');
  }
}

/** Close the current segment (charging everything since the last boundary to it) and open the next. */
async function boundary(next) {
  if (!session) return;
  const closing = pendingSegment;
  let raw;
  if (mode === 'precise') raw = (await session.post('Profiler.takePreciseCoverage')).result;
  else {
    raw = (await session.post('Profiler.stop')).profile;
    await session.post('Profiler.start');
  }
  if (closing) segments.push({ ...closing, raw });
  pendingSegment = next;
}

function summarizeSegment(seg) {
  const calls = Object.fromEntries(CATEGORIES.map((c) => [c, 0]));
  const selfMs = Object.fromEntries(CATEGORIES.map((c) => [c, 0]));
  const functions = [];
  let excluded = 0; // harness code (host routing, the boundary hook) inside a platform segment
  if (mode === 'precise') {
    for (const script of seg.raw) {
      const cat = categoryOf(seg.kind, script.url);
      for (const fn of script.functions) {
        const count = fn.ranges[0]?.count ?? 0;
        if (count <= 0) continue;
        if (cat === 'harness') {
          excluded += count;
          continue;
        }
        calls[cat] += count;
        functions.push({ name: fn.functionName || '(anonymous)', url: script.url, category: cat, calls: count });
      }
    }
  } else {
    const p = seg.raw;
    const byId = new Map(p.nodes.map((n) => [n.id, n]));
    const { samples = [], timeDeltas = [] } = p;
    for (let i = 0; i < samples.length; i++) {
      const dt = (i + 1 < timeDeltas.length ? timeDeltas[i + 1] : 0) / 1000;
      const frame = byId.get(samples[i])?.callFrame;
      if (!frame || (!frame.url && /^\((idle|program|root|garbage collector)\)$/.test(frame.functionName))) continue;
      const cat = categoryOf(seg.kind, frame.url);
      if (cat !== 'harness') selfMs[cat] += dt;
    }
    for (const c of CATEGORIES) selfMs[c] = Math.round(selfMs[c] * 1000) / 1000;
  }
  return { calls, selfMs, functions, excluded };
}

// ---------------------------------------------------------------- KeeperHub's executor, by the job

const nowIso = () => new Date().toISOString(); // UTC; a `timestamp` column keeps the UTC wall time
const newId = () => crypto.randomUUID().replaceAll('-', '').slice(0, 21);
const PROFILED_PREFIX = 'wfprof-prof-'; // keep in sync with wfprof_pipeline/lib/workflows/schema.py
const jsonValue = (v) => (v === undefined ? null : JSON.stringify(v, (_, x) => (typeof x === 'bigint' ? x.toString() : x)));

/** `{{@nodeId.path}}` / `{{@trigger.path}}` (KeeperHub's template syntax, with or without `:Label`). */
function resolveTemplates(value, outputs) {
  const lookup = (ref) => {
    const m = /^@([^.:}]+)(?::[^.}]*)?(?:\.(.+))?$/.exec(ref.trim());
    if (!m) return undefined;
    let cur = outputs[m[1]];
    for (const part of (m[2] ?? '').split('.').filter(Boolean)) cur = cur == null ? undefined : cur[part];
    return cur;
  };
  if (typeof value === 'string') {
    const whole = /^\{\{([^}]+)\}\}$/.exec(value);
    if (whole) {
      const v = lookup(whole[1]);
      return v === undefined ? value : v;
    }
    return value.replace(/\{\{(@[^}]+)\}\}/g, (m, ref) => {
      const v = lookup(ref);
      return v === undefined ? m : typeof v === 'object' ? JSON.stringify(v) : String(v);
    });
  }
  if (Array.isArray(value)) return value.map((v) => resolveTemplates(v, outputs));
  if (value && typeof value === 'object') return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, resolveTemplates(v, outputs)]));
  return value;
}

/** Registry input, overridden by the node's config; endpoint fields that point at the stub stay there. */
function stepInput(action, node, outputs, stubUrl, context) {
  const base = action.input ?? {};
  const config = { ...(node.data?.config ?? {}) };
  delete config.actionType;
  for (const [k, v] of Object.entries(base)) if (typeof v === 'string' && v.includes('{{stub}}')) delete config[k];
  const merged = fillPlaceholders({ ...base, ...resolveTemplates(config, outputs) }, { stub: stubUrl });
  return { ...merged, _context: context };
}

function failure(value) {
  if (value && typeof value === 'object' && value.success === false) return String(value.error ?? 'step returned success=false');
  return null;
}

async function withTimeout(promise, ms, what) {
  let timer;
  try {
    return await Promise.race([
      promise,
      new Promise((_, reject) => {
        timer = setTimeout(() => reject(new RunnerError('timeout', `${what} did not settle within ${ms} ms`)), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

async function main() {
  if (!workflowId) throw new RunnerError('config', 'the job has no workflowId');
  if (!databaseUrl) throw new RunnerError('config', 'the job has no databaseUrl');
  if (!['none', 'precise', 'sampling'].includes(mode)) throw new RunnerError('config', `unknown profile mode ${mode}`);
  if (job.executor) return mainPlatform(job.executor);
  if (!Array.isArray(job.order) || job.order.length === 0) {
    throw new RunnerError('config', 'no execution plan in the job (use `wfprof profile-workflow`, which plans it)');
  }
  const actions = job.actions ?? {};
  const stepFiles = Object.values(actions).map((a) => a.compiled).filter(Boolean);
  categorize = makeCategorizer({ stepFiles, shimDir: job.shimDir, harnessDir: HARNESS_DIR, stepsRoot: job.stepsRoot });

  // Set-up the platform does not pay per execution (or that is ours, not the platform's): not measured.
  process.setSourceMapsEnabled?.(false);
  void globalThis.fetch;
  new Response('x');
  await import('node:https');
  const stub = await startStubWorker([]);
  // Hard-coded vendor hosts (registry `host`/`url` responses) go to the stub, as in step profiling.
  installHostRouting({ hosts: [...new Set(Object.values(actions).flatMap((a) => a.hostRoutes ?? []))], port: stub.port });

  await startProfiling();
  pendingSegment = { kind: 'db', nodeId: null, label: 'connect' };
  const { default: pg } = await import('pg');
  const client = new pg.Client({ connectionString: databaseUrl, application_name: 'wfprof-run-workflow' });
  try {
    await client.connect();
  } catch (err) {
    throw new RunnerError('unreachable', `cannot connect to PostgreSQL: ${err.message}`);
  }
  client.on('error', () => {}); // a dropped connection surfaces on the next query instead
  // Steps run in this process, users' code nodes too (node:vm is no sandbox): the credentials leave the
  // environment once the only connection is open.
  databaseUrl = null;
  const pgPort = Number(client.port) || 5432;
  installEgressGuard({ allowPorts: [stub.port, pgPort], allowUnixSockets: true });

  try {
    const wf = await client.query('select id, name, user_id, nodes, edges from workflows where id = $1', [workflowId]);
    if (wf.rowCount === 0) throw new RunnerError('unknown_workflow', `unknown workflow id ${JSON.stringify(workflowId)}`);
    const workflow = wf.rows[0];
    const nodesById = new Map((workflow.nodes ?? []).map((n) => [n.id, n]));
    const order = job.order ?? [];
    for (const id of order) if (!nodesById.has(id)) throw new RunnerError('stale_job', `node ${id} is not in workflow ${workflowId} (changed since it was planned)`);

    const triggerInput = workflowInput ?? {};
    for (let rep = 0; rep < repeat; rep++) {
      // Executions this runner creates under a profiler carry PROFILED_PREFIX: their timings are the
      // profiler's, not the platform's, so the trace ingest leaves them out.
      const executionId = rep === 0 && requestedExecutionId ? requestedExecutionId : `${mode === 'none' ? '' : PROFILED_PREFIX}${newId()}`;
      const input = jobInputs ? jobInputs[rep] : triggerInput;
      doc.runs.push(await runOnce({ client, stub, workflow, nodesById, order, actions, triggerInput: input, executionId, existing: rep === 0 && Boolean(requestedExecutionId) }));
    }
  } finally {
    await boundary({ kind: 'db', nodeId: null, label: 'disconnect' });
    await client.end().catch(() => {});
    await boundary(null);
  }
  finish();
  await stub.close().catch(() => {});
}

async function runOnce({ client, stub, workflow, nodesById, order, actions, triggerInput, executionId, existing }) {
  const run = { executionId, status: 'running', error: null, failedNodeId: null, durationMs: null, nodes: [], segmentsFrom: segments.length };
  const t0 = performance.now();
  const startedAt = nowIso();
  await boundary({ kind: 'db', nodeId: null, label: 'execution start' });
  if (existing) {
    // Python checked that it is this workflow's pending execution; taking it over only if it still is
    // (a finished one re-run would be overwritten and get a second set of log rows).
    const taken = await client.query(
      `update workflow_executions set status = 'running', started_at = $2, completed_at = null, error = null,
              total_steps = $3, completed_steps = '0', input = coalesce(input, $4)
        where id = $1 and workflow_id = $5 and status = 'pending'`,
      [executionId, startedAt, String(order.length), jsonValue(triggerInput), workflow.id],
    );
    if (taken.rowCount === 0) throw new RunnerError('execution_not_pending', `execution ${JSON.stringify(executionId)} is no longer a pending execution of ${JSON.stringify(workflow.id)}`);
  } else {
    await client.query(
      `insert into workflow_executions (id, workflow_id, user_id, status, input, started_at, total_steps, completed_steps)
       values ($1, $2, $3, 'running', $4, $5, $6, '0')`,
      [executionId, workflow.id, workflow.user_id, jsonValue(triggerInput), startedAt, String(order.length)],
    );
  }
  // If this process is killed (timeout), the caller marks what it announced here as failed.
  process.stderr.write(`wfprof-run-workflow: execution ${executionId} started\n`);

  const outputs = {};
  let completed = 0;
  let lastOutput = null;
  for (const nodeId of order) {
    const node = nodesById.get(nodeId);
    const isTrigger = node.data?.type === 'trigger';
    const actionType = isTrigger ? 'trigger' : String(node.data?.config?.actionType ?? '');
    const nodeName = node.data?.label || nodeId;
    const rec = { nodeId, nodeName, actionType, stepId: null, status: 'running', error: null, durationMs: null, ioRequests: 0 };
    run.nodes.push(rec);
    const action = isTrigger ? null : actions[actionType];
    const logId = newId();
    const nodeStartedAt = nowIso();

    await boundary({ kind: 'executor', nodeId, label: 'prepare' });
    const context = { executionId, nodeId, nodeName };
    let input = null;
    let setupError = null;
    if (isTrigger) input = triggerInput;
    else if (!action) setupError = `unknown action type ${JSON.stringify(actionType)}`;
    else if (!action.compiled) setupError = `step ${action.id} could not be compiled: ${action.error ?? 'unknown error'}`;
    else input = stepInput(action, node, outputs, stub.url, context);

    await boundary({ kind: 'db', nodeId, label: 'log start' });
    await client.query(
      `insert into workflow_execution_logs (id, execution_id, node_id, node_name, node_type, status, input, started_at, timestamp)
       values ($1, $2, $3, $4, $5, 'running', $6, $7, $7)`,
      [logId, executionId, nodeId, nodeName, actionType, jsonValue(input), nodeStartedAt],
    );
    await client.query('update workflow_executions set current_node_id = $2 where id = $1', [executionId, nodeId]);
    const nodeStart = performance.now(); // the step's own time, as withStepLogging measures it

    let output = null;
    let error = setupError;
    if (!error && isTrigger) output = triggerInput;
    else if (!error) {
      rec.stepId = action.id;
      await boundary({ kind: 'harness', nodeId, label: 'stub routes' });
      for (const [k, v] of Object.entries(fillPlaceholders(action.env ?? {}, { stub: stub.url }))) process.env[k] = String(v);
      await stub.setRoutes(fillPlaceholders(action.responses ?? [], { stub: stub.url }));
      await boundary({ kind: 'step', nodeId, label: 'step' });
      try {
        const mod = await importStep(action.compiled);
        const fn = stepFunction(mod, action.export);
        output = await withTimeout(Promise.resolve(fn(input)), stepTimeoutMs, `step ${action.id}`);
        error = failure(output);
      } catch (err) {
        error = err?.message ?? String(err);
      }
      await boundary({ kind: 'harness', nodeId, label: 'stub log' });
      rec.ioRequests = (await stub.takeLog()).length;
    }
    rec.durationMs = Math.round((performance.now() - nodeStart) * 1000) / 1000;
    rec.status = error ? 'error' : 'success';
    rec.error = error;

    await boundary({ kind: 'db', nodeId, label: 'log end' });
    await client.query(
      `update workflow_execution_logs set status = $2, output = $3, error = $4, completed_at = $5, duration = $6 where id = $1`,
      [logId, rec.status, jsonValue(output), error, nowIso(), String(Math.round(rec.durationMs))],
    );
    if (error) {
      run.status = 'error';
      run.error = `${nodeName}: ${error}`;
      run.failedNodeId = nodeId;
      break;
    }
    completed += 1;
    outputs[nodeId] = output;
    if (isTrigger) outputs.trigger = output;
    lastOutput = output;
    await client.query('update workflow_executions set completed_steps = $2 where id = $1', [executionId, String(completed)]);
  }
  if (run.status === 'running') run.status = 'success';
  run.durationMs = Math.round((performance.now() - t0) * 1000) / 1000;
  await boundary({ kind: 'db', nodeId: null, label: 'execution end' });
  await client.query(
    `update workflow_executions set status = $2, output = $3, error = $4, completed_at = $5, duration = $6 where id = $1`,
    [executionId, run.status, run.status === 'success' ? jsonValue(lastOutput) : null, run.error, nowIso(), String(Math.round(run.durationMs))],
  );
  await boundary({ kind: 'executor', nodeId: null, label: 'between executions' });
  return run;
}

// ---------------------------------------------------------------- the platform's own executor

/**
 * One execution through the checkout's executor (`executeWorkflow({nodes, edges, triggerInput, executionId,
 * workflowId})`), in this process, as the platform's worker runs it. Python created the pending execution;
 * the platform's code writes everything else through its own db client (DATABASE_URL). Segments: import,
 * integration check, the executor outside steps, and one per step boundary call (its node).
 */
async function mainPlatform(ex) {
  categoryOf = platformCategorizer({
    entry: ex.entry, shimDir: job.shimDir, stepModules: ex.stepModules, databasePaths: ex.databasePaths,
    stepsRoot: job.stepsRoot, harnessDir: HARNESS_DIR,
  });
  const executionId = requestedExecutionId;
  if (!executionId) throw new RunnerError('config', 'EXECUTION_ID is required with the platform executor (wfprof creates it)');
  const triggerInput = workflowInput ?? {};
  process.env.DATABASE_URL = databaseUrl; // the platform's db client reads it (and it goes after the import)
  databaseUrl = null;

  process.setSourceMapsEnabled?.(false);
  void globalThis.fetch;
  new Response('x');
  await import('node:https');
  const stub = await startStubWorker([]);
  await stub.setRoutes(fillPlaceholders(ex.responses ?? [], { stub: stub.url }));
  for (const [k, v] of Object.entries(fillPlaceholders(ex.env ?? {}, { stub: stub.url }))) process.env[k] = String(v);
  installHostRouting({ hosts: ex.hostRoutes ?? [], port: stub.port });
  // The platform's database and the stub, nothing else.
  const db = ex.database ?? {};
  const guard = installEgressGuard({
    allowPorts: [stub.port, ...(db.loopbackPort ? [db.loopbackPort] : [])],
    allowUnixSockets: db.socketDir ? [db.socketDir] : false,
    allowEndpoints: db.host ? [{ host: db.host, port: db.port }] : [],
  });

  const run = { executionId, status: 'running', error: null, failedNodeId: null, durationMs: null, nodes: [], segmentsFrom: 0, egressBlocked: guard.blocked };
  doc.runs.push(run);
  process.stderr.write(`wfprof-run-workflow: execution ${executionId} started\n`);

  await startProfiling();
  pendingSegment = { kind: 'executor', nodeId: null, label: 'import' };
  let mod;
  try {
    mod = await import(ex.entry);
  } catch (err) {
    await boundary(null);
    throw new RunnerError('executor_import', importErrorMessage(err, ex.module));
  }
  const fn = mod.executor?.[ex.export];
  if (typeof fn !== 'function') {
    await boundary(null);
    const names = Object.keys(mod.executor ?? {}).filter((k) => typeof mod.executor[k] === 'function');
    throw new RunnerError('executor_export', `${ex.module} has no exported function ${ex.export} (looked for [executor] export = "${ex.export}"; its functions: ${names.join(', ') || 'none'})`);
  }
  // User code nodes run in this process too: the credentials leave the environment once the platform's
  // db client has read them.
  for (const name of ['DATABASE_URL', 'PGPASSWORD', 'DAGSTER_PG_URL']) delete process.env[name];

  // Every step boundary call is one node's segment (nested calls return to the enclosing one).
  const stack = [];
  globalThis[BOUNDARY_HOOK] = async (args, call) => {
    const context = args[0]?._context ?? {};
    const nodeId = context.nodeId ?? null;
    const rec = { nodeId: nodeId ?? '(no node id)', nodeName: context.nodeName ?? nodeId ?? '', actionType: context.nodeType ?? '', stepId: ex.stepIds?.[context.nodeType] ?? null, status: 'running', error: null, durationMs: null, ioRequests: 0 };
    run.nodes.push(rec);
    const outer = pendingSegment;
    await boundary({ kind: 'harness', nodeId, label: 'stub log' });
    await stub.takeLog();
    stack.push(outer);
    await boundary({ kind: 'step', nodeId, label: 'step' });
    const t = performance.now();
    try {
      const result = await call();
      rec.error = failure(result);
      return result;
    } catch (err) {
      rec.error = err?.message ?? String(err);
      throw err;
    } finally {
      rec.durationMs = Math.round((performance.now() - t) * 1000) / 1000;
      rec.status = rec.error ? 'error' : 'success';
      await boundary({ kind: 'harness', nodeId, label: 'stub log' });
      rec.ioRequests = (await stub.takeLog()).length;
      await boundary(stack.pop());
    }
  };

  const t0 = performance.now();
  try {
    if (ex.checkExport) {
      await boundary({ kind: 'executor', nodeId: null, label: 'check integrations' });
      const check = mod.checker?.[ex.checkExport];
      if (typeof check !== 'function') throw new RunnerError('executor_export', `${ex.checkModule} has no exported function ${ex.checkExport}`);
      const verdict = await check(ex.nodes, ex.userId);
      if (verdict && verdict.valid === false) {
        throw new RunnerError('invalid_integrations', `${ex.checkExport}: the workflow references invalid integrations: ${(verdict.invalidIds ?? []).join(', ') || '(none named)'}`);
      }
    }
    await boundary({ kind: 'executor', nodeId: null, label: 'execute' });
    const result = await withTimeout(
      Promise.resolve(fn({ nodes: ex.nodes, edges: ex.edges, triggerInput, executionId, workflowId })),
      Number(ex.timeoutMs ?? 60_000), `the platform's ${ex.export}`,
    );
    if (result && typeof result === 'object' && result.success === false) {
      run.status = 'error';
      run.error = String(result.error ?? 'the executor returned success=false');
    } else run.status = 'success';
  } catch (err) {
    run.status = 'error';
    run.error = err?.message ?? String(err);
    run.errorKind = err instanceof RunnerError ? err.kind : 'platform';
  } finally {
    await boundary(null);
    delete globalThis[BOUNDARY_HOOK];
  }
  run.durationMs = Math.round((performance.now() - t0) * 1000) / 1000;
  run.failedNodeId = run.nodes.find((n) => n.status === 'error')?.nodeId ?? null;
  finish();
  for (const r of doc.runs) r.egressBlocked = guard.blocked.map((b) => `${b.kind} ${b.target}`);
  await stub.close().catch(() => {});
}

/** Attribute every segment to its run and node; totals by category; top functions. */
function finish() {
  if (mode === 'none') {
    for (const run of doc.runs) delete run.segmentsFrom;
    return;
  }
  const allFunctions = new Map();
  const runs = doc.runs;
  const runOf = (index) => {
    let found = runs[0];
    for (const r of runs) if (r.segmentsFrom <= index) found = r;
    return found;
  };
  const zero = () => Object.fromEntries(CATEGORIES.map((c) => [c, 0]));
  for (const r of runs) {
    r.calls = zero();
    r.selfMs = zero();
    r.harnessCallsExcluded = 0;
    for (const n of r.nodes) {
      n.calls = zero();
      n.selfMs = zero();
    }
    if (detail) r.segments = [];
  }
  segments.forEach((seg, index) => {
    const run = runOf(index);
    if (!run) return;
    const s = summarizeSegment(seg);
    run.harnessCallsExcluded += s.excluded;
    if (seg.kind === 'harness') {
      // The stub's message round-trips exist only because we answer I/O with canned responses.
      run.harnessCallsExcluded += Object.values(s.calls).reduce((a, b) => a + b, 0);
      return;
    }
    const node = seg.nodeId ? run.nodes.find((n) => n.nodeId === seg.nodeId) : null;
    if (seg.label === 'import') {
      // The platform's import is what a warm worker no longer pays: reported apart as well.
      run.importCalls ??= zero();
      for (const c of CATEGORIES) run.importCalls[c] += s.calls[c];
    }
    for (const c of CATEGORIES) {
      run.calls[c] += s.calls[c];
      run.selfMs[c] = Math.round((run.selfMs[c] + s.selfMs[c]) * 1000) / 1000;
      if (node) {
        node.calls[c] += s.calls[c];
        node.selfMs[c] = Math.round((node.selfMs[c] + s.selfMs[c]) * 1000) / 1000;
      }
    }
    if (detail) run.segments.push({ kind: seg.kind, label: seg.label, nodeId: seg.nodeId, calls: s.calls, selfMs: s.selfMs });
    for (const f of s.functions) {
      const key = `${f.url}\u0000${f.name}\u0000${f.category}`;
      const prev = allFunctions.get(key);
      if (prev) prev.calls += f.calls;
      else allFunctions.set(key, { ...f });
    }
  });
  for (const r of runs) {
    r.totalCalls = Object.values(r.calls).reduce((a, b) => a + b, 0);
    delete r.segmentsFrom;
  }
  doc.topFunctions = [...allFunctions.values()]
    .sort((a, b) => b.calls - a.calls || a.url.localeCompare(b.url))
    .slice(0, topN)
    .map((f) => ({ name: f.name, category: f.category, file: f.url.startsWith('node:') ? f.url : toPath(f.url), calls: f.calls }));
}

try {
  await main();
} catch (err) {
  doc.error = err?.message ?? String(err);
  doc.errorKind = err instanceof RunnerError ? err.kind : 'internal';
  if (!(err instanceof RunnerError)) process.stderr.write(`${err?.stack ?? err}\n`);
}
writeDoc();
process.exit(doc.error ? 1 : 0);
