// Route requests for named hosts to the loopback stub: a step that calls a hard-coded
// `https://api.vendor.com/...` needs no shim. fetch, http(s).request and http(s).get are rewritten to plain
// HTTP on the stub's port, with the original host in the x-wfprof-host header (the stub matches and logs
// it). No TLS handshake happens, so its cost is not measured. Every other host stays blocked by the
// egress guard. Installed before measuring; the wrappers live in the harness, so their few calls are
// harness calls, not the step's.

import http from 'node:http';
import https from 'node:https';
import { syncBuiltinESMExports } from 'node:module';

export const HOST_HEADER = 'x-wfprof-host';

const TLS_OPTIONS = ['ca', 'cert', 'key', 'pfx', 'passphrase', 'servername', 'rejectUnauthorized', 'checkServerIdentity',
  'secureContext', 'ciphers', 'ecdhCurve', 'minVersion', 'maxVersion', 'ALPNProtocols', 'session'];

/**
 * @param {{hosts: string[], port: number}} opts  hosts as "name" or "name:port" (lower case)
 * @returns {() => void} uninstall
 */
export function installHostRouting({ hosts, port }) {
  const routed = new Set((hosts ?? []).map((h) => h.toLowerCase()));
  if (!routed.size || !port) return () => {};
  const routeOf = (hostname, hostPort) => {
    const name = String(hostname ?? '').toLowerCase().replace(/\.$/, '').replace(/^\[|\]$/g, '');
    if (hostPort && routed.has(`${name}:${hostPort}`)) return `${name}:${hostPort}`;
    return routed.has(name) ? name : null;
  };

  const originalFetch = globalThis.fetch;
  globalThis.fetch = function routedFetch(input, init) {
    let url;
    try {
      url = new URL(input instanceof Request ? input.url : String(input));
    } catch {
      return originalFetch(input, init);
    }
    const host = routeOf(url.hostname, url.port);
    if (!host) return originalFetch(input, init);
    const target = `http://127.0.0.1:${port}${url.pathname}${url.search}`;
    const headers = new Headers(init?.headers ?? (input instanceof Request ? input.headers : undefined));
    headers.set(HOST_HEADER, url.host);
    if (input instanceof Request) {
      const body = input.body ?? undefined;
      return originalFetch(target, { method: input.method, body, duplex: body ? 'half' : undefined, signal: input.signal,
        redirect: input.redirect, ...init, headers });
    }
    return originalFetch(target, { ...init, headers });
  };

  const restore = [];
  const normalize = (args) => {
    // (url, options?, cb?) or (options, cb?)
    let [first, second, third] = args;
    let options = {};
    let cb;
    if (typeof first === 'string' || first instanceof URL) {
      const u = new URL(String(first));
      options = { protocol: u.protocol, hostname: u.hostname, port: u.port || undefined, path: `${u.pathname}${u.search}` };
      if (typeof second === 'function') cb = second;
      else {
        options = { ...options, ...(second ?? {}) };
        cb = third;
      }
    } else {
      options = { ...(first ?? {}) };
      cb = second;
    }
    return { options, cb };
  };
  const wrap = (mod, secure) => {
    for (const name of ['request', 'get']) {
      const original = mod[name];
      restore.push([mod, name, original]);
      mod[name] = function routedRequest(...args) {
        const { options, cb } = normalize(args);
        const hostname = options.hostname ?? String(options.host ?? '').replace(/:\d+$/, '');
        const host = routeOf(hostname, options.port && String(options.port) !== (secure ? '443' : '80') ? options.port : '');
        if (!host) return original.apply(this, args);
        const next = { ...options, protocol: 'http:', hostname: '127.0.0.1', host: '127.0.0.1', port, agent: undefined,
          headers: { ...(options.headers ?? {}), [HOST_HEADER]: host } };
        delete next.createConnection;
        for (const k of TLS_OPTIONS) delete next[k];
        const req = restore.find(([m, n]) => m === http && n === 'request')[2].call(http, next, cb);
        if (name === 'get') req.end();
        return req;
      };
    }
  };
  wrap(http, false);
  wrap(https, true);
  syncBuiltinESMExports();
  return () => {
    globalThis.fetch = originalFetch;
    for (const [mod, name, original] of restore) mod[name] = original;
    syncBuiltinESMExports();
  };
}
