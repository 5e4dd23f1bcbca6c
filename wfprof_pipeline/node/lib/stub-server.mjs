// Loopback stub server answering a step's requests with canned responses from its registry entry.
//
// Two ways to use it:
//   createStubServer(routes)   an http.Server in the calling thread (serve-stub.mjs runs one as a process)
//   startStubWorker(routes)    the same server in a worker thread: a separate V8 isolate and event loop,
//                              so serving requests adds nothing to the profiled main thread's coverage
//                              (an inspector Session sees only its own thread), while the step still
//                              goes through real sockets, real parsers and Node's real HTTP clients.
//
// routes: [{ method?, path?, host?, rpc_method?, params_contains?, status?, headers?, json?, body?, result?, error? }]
// Every request is logged: { method, host, path, rpcMethods: [...], status, matched, at (epoch ms) }.
// One server can also serve many steps at once, each under /t/<token> (see createStubServer).

import http from 'node:http';
import { Worker } from 'node:worker_threads';

import { keccak256Hex } from './keccak.mjs';

const PREWARM_PATH = '/__wfprof/prewarm';

function pathMatches(pattern, path) {
  if (!pattern) return true;
  return pattern.endsWith('*') ? path.startsWith(pattern.slice(0, -1)) : path === pattern;
}

function isJsonRpc(value) {
  const one = (v) => v && typeof v === 'object' && typeof v.method === 'string' && 'jsonrpc' in v;
  return Array.isArray(value) ? value.length > 0 && value.every(one) : one(value);
}

/** Replace the dynamic placeholders in a JSON-RPC result (see registry.toml). */
function fillResult(result, call, state) {
  if (typeof result === 'string') {
    if (result === '{{keccak256(params[0])}}') {
      state.lastTxHash = keccak256Hex(String(call.params?.[0] ?? ''));
      return state.lastTxHash;
    }
    return result.replaceAll('{{last_tx_hash}}', state.lastTxHash ?? '0x' + '0'.repeat(64));
  }
  if (Array.isArray(result)) return result.map((v) => fillResult(v, call, state));
  if (result && typeof result === 'object') {
    return Object.fromEntries(Object.entries(result).map(([k, v]) => [k, fillResult(v, call, state)]));
  }
  return result;
}

function newTenant(routes = []) {
  return { routes, log: [], state: { lastTxHash: null } };
}

const now = () => performance.timeOrigin + performance.now(); // epoch ms, comparable across processes

/**
 * @param {object[]} initialRoutes  routes of the default tenant (requests to plain paths)
 * Tenants are managed over /__wfprof/tenants/<token> (PUT routes → {port}, GET …/log, DELETE), so one stub
 * process can serve many concurrently profiled steps (see serve-stub.mjs). Each tenant listens on its own
 * port (requests there are its own, whatever their path); /t/<token>/<path> on the main port also works.
 */
export function createStubServer(initialRoutes = []) {
  const fallback = newTenant(initialRoutes);
  const tenants = new Map();

  const answerRpc = (call, tenant, hostOk) => {
    const params = JSON.stringify(call.params ?? []);
    const route = tenant.routes.find(
      (r) => r.rpc_method === call.method && hostOk(r) && (!r.params_contains || params.includes(r.params_contains)),
    );
    if (!route) {
      return {
        matched: false,
        reply: { jsonrpc: '2.0', id: call.id ?? null, error: { code: -32601, message: `wfprof stub: no canned response for ${call.method}` } },
      };
    }
    const reply = { jsonrpc: '2.0', id: call.id ?? null };
    if (route.error !== undefined) reply.error = route.error;
    else reply.result = fillResult(route.result ?? null, call, tenant.state);
    return { matched: true, reply };
  };

  const control = (req, res, url, text) => {
    const m = url.pathname.match(/^\/__wfprof\/tenants\/([\w-]+)(\/log)?$/);
    const json = (status, body) => res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
    if (!m) return json(404, { error: 'unknown control path' });
    const [, token, log] = m;
    if (req.method === 'PUT' && !log) {
      const routes = JSON.parse(text || '[]');
      const existing = tenants.get(token);
      if (existing) {
        existing.routes = routes;
        existing.state = { lastTxHash: null };
        return json(200, { ok: true, port: existing.port });
      }
      const tenant = newTenant(routes);
      tenants.set(token, tenant);
      // Its own port: a step's base URL is a bare origin (SDKs that resolve absolute paths against it
      // still reach its tenant), and a step never reaches this control API.
      tenant.server = http.createServer((q, r) => serve(q, r, tenant));
      tenant.server.keepAliveTimeout = 5_000;
      tenant.server.listen(0, '127.0.0.1', () => {
        tenant.port = tenant.server.address().port;
        json(200, { ok: true, port: tenant.port });
      });
      return undefined;
    }
    if (req.method === 'GET' && log) {
      const tenant = tenants.get(token);
      if (!tenant) return json(404, { error: `unknown tenant ${token}` });
      const out = tenant.log;
      tenant.log = [];
      return json(200, { log: out });
    }
    if (req.method === 'DELETE' && !log) {
      const tenant = tenants.get(token);
      tenants.delete(token);
      tenant?.server?.closeAllConnections?.();
      tenant?.server?.close();
      return json(200, { ok: true });
    }
    return json(405, { error: 'method not allowed' });
  };

  /** Answer one request; `fixed` = the tenant that owns the port it came in on (else: the main port). */
  const serve = (req, res, fixed) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      const at = now();
      const url = new URL(req.url, 'http://stub');
      if (url.pathname === PREWARM_PATH) {
        res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
        return;
      }
      const text = Buffer.concat(chunks).toString('utf8');
      if (!fixed && url.pathname.startsWith('/__wfprof/')) return control(req, res, url, text);
      let tenant = fixed ?? fallback;
      let path = url.pathname;
      const scoped = fixed ? null : path.match(/^\/t\/([\w-]+)(\/.*)?$/);
      if (scoped) {
        tenant = tenants.get(scoped[1]);
        path = scoped[2] ?? '/';
        if (!tenant) {
          res.writeHead(404, { 'content-type': 'application/json' }).end(JSON.stringify({ error: 'wfprof stub: unknown tenant' }));
          return;
        }
      }
      let parsed;
      try {
        parsed = text ? JSON.parse(text) : undefined;
      } catch {
        parsed = undefined;
      }
      // A request routed from a named host (host-routing.mjs) carries that host; others came to the stub itself.
      const routedHost = req.headers['x-wfprof-host'] ? String(req.headers['x-wfprof-host']).toLowerCase() : null;
      const entry = { method: req.method, host: routedHost ?? req.headers.host ?? '', path, rpcMethods: [], status: 200, matched: true, at };
      const hostOk = (r) => !r.host || (routedHost !== null && (r.host === routedHost || r.host === routedHost.replace(/:\d+$/, '')));
      tenant.log.push(entry);
      if (isJsonRpc(parsed)) {
        const calls = Array.isArray(parsed) ? parsed : [parsed];
        const answers = calls.map((c) => answerRpc(c, tenant, hostOk));
        entry.rpcMethods = calls.map((c) => c.method);
        entry.matched = answers.every((a) => a.matched);
        const body = Array.isArray(parsed) ? answers.map((a) => a.reply) : answers[0].reply;
        res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(body));
        return;
      }
      const route = tenant.routes.find((r) => !r.rpc_method && hostOk(r) && (!r.method || r.method.toUpperCase() === req.method) && pathMatches(r.path, path));
      if (!route) {
        entry.status = 404;
        entry.matched = false;
        res.writeHead(404, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ error: `wfprof stub: no canned response for ${req.method} ${path}` }));
        return;
      }
      entry.status = route.status ?? 200;
      const headers = { ...(route.headers ?? {}) };
      let body = '';
      if (route.json !== undefined) {
        body = JSON.stringify(route.json);
        headers['content-type'] ??= 'application/json';
      } else if (route.body !== undefined) {
        body = String(route.body);
      }
      res.writeHead(entry.status, headers).end(body);
    });
  };
  const server = http.createServer((req, res) => serve(req, res, null));
  server.keepAliveTimeout = 5_000;

  return {
    server,
    listen(port = 0) {
      return new Promise((resolve, reject) => {
        server.once('error', reject);
        server.listen(port, '127.0.0.1', () => resolve(server.address().port));
      });
    },
    setRoutes(next) {
      fallback.routes = next;
      fallback.state.lastTxHash = null;
    },
    /** The requests served (default tenant) since the last call, and forget them. */
    takeLog() {
      const out = fallback.log;
      fallback.log = [];
      return out;
    },
    close() {
      for (const tenant of tenants.values()) {
        tenant.server?.closeAllConnections?.();
        tenant.server?.close();
      }
      server.closeAllConnections?.();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}

/**
 * Start the stub in a worker thread. Resolves to { url, port, setRoutes(routes), takeLog(), close() };
 * the async methods round-trip a message to the worker, so call them between measurements only.
 */
export async function startStubWorker(routes = []) {
  const worker = new Worker(new URL('./stub-worker.mjs', import.meta.url), { workerData: { routes } });
  let seq = 0;
  const pending = new Map();
  worker.on('message', (msg) => {
    const waiter = pending.get(msg.id);
    if (waiter) {
      pending.delete(msg.id);
      waiter(msg);
    }
  });
  const call = (type, payload) =>
    new Promise((resolve) => {
      const id = ++seq;
      pending.set(id, resolve);
      worker.postMessage({ id, type, payload });
    });
  const ready = await call('ready');
  if (ready.error) throw new Error(`stub server failed to start: ${ready.error}`);
  const port = ready.port;
  return {
    port,
    url: `http://127.0.0.1:${port}`,
    prewarmPath: PREWARM_PATH,
    setRoutes: (next) => call('setRoutes', next),
    takeLog: async () => (await call('takeLog')).log,
    close: async () => {
      await call('close');
      await worker.terminate();
    },
    worker,
  };
}
