// Egress guard: no step may reach the network. Every TCP connect (net, http, https, fetch/undici, tls),
// DNS lookup and UDP send to anything but the allowed loopback endpoints is refused BEFORE it connects
// (no DNS query, no SYN): the socket errors with code EWFPROF_EGRESS_BLOCKED and the attempt is recorded.

import dgram from 'node:dgram';
import dns from 'node:dns';
import { syncBuiltinESMExports } from 'node:module';
import net from 'node:net';

const LOOPBACK = new Set(['127.0.0.1', '::1', 'localhost', '::ffff:127.0.0.1']);
// c-ares queries (dns.resolve*, dns.reverse, Resolver objects) send their own UDP packets, never through
// dgram or net: each one is refused. The module-level functions are bound copies, so both are patched.
const RESOLVER_METHODS = ['resolve', 'resolve4', 'resolve6', 'resolveAny', 'resolveCaa', 'resolveCname', 'resolveMx',
  'resolveNaptr', 'resolveNs', 'resolvePtr', 'resolveSoa', 'resolveSrv', 'resolveTxt', 'reverse'];

export class EgressBlockedError extends Error {
  constructor(target) {
    super(`wfprof blocked a network connection to ${target}: steps may only reach the canned-response stub`);
    this.code = 'EWFPROF_EGRESS_BLOCKED';
  }
}

function connectTarget(args) {
  let first = args[0];
  if (Array.isArray(first)) first = first[0]; // net internals pass [options, cb] (normalized args)
  if (first && typeof first === 'object') {
    if (first.path) return { path: String(first.path) };
    return { host: first.host ?? 'localhost', port: Number(first.port) };
  }
  if (typeof first === 'number' || (typeof first === 'string' && /^\d+$/.test(first))) {
    return { host: typeof args[1] === 'string' ? args[1] : 'localhost', port: Number(first) };
  }
  if (typeof first === 'string') return { path: first };
  return { host: 'unknown', port: NaN };
}

/**
 * @param {object} [opts]
 * @param {number[]} [opts.allowPorts]       loopback ports allowed (empty/undefined: any loopback port)
 * @param {boolean|string[]} [opts.allowUnixSockets]  true, or allowed socket path prefixes (e.g. Postgres)
 * @param {() => string} [opts.phase]        labels each record with the phase it happened in
 * @param {{host: string, port: number}[]} [opts.allowEndpoints]  one more host:port each (the platform's
 *        database when it is not on loopback); its name may be looked up
 * @returns {{ blocked: object[], uninstall: () => void }}
 */
export function installEgressGuard({ allowPorts, allowUnixSockets = false, phase = () => '', allowEndpoints = [] } = {}) {
  const blocked = [];
  const ports = allowPorts?.length ? new Set(allowPorts.map(Number)) : null;
  const endpoints = new Set(allowEndpoints.map((e) => `${String(e.host).toLowerCase()}:${Number(e.port)}`));
  const lookups = new Set(allowEndpoints.map((e) => String(e.host).toLowerCase()));
  const allowed = (t) => {
    if (t.path !== undefined) {
      if (allowUnixSockets === true) return true;
      return Array.isArray(allowUnixSockets) && allowUnixSockets.some((p) => t.path.startsWith(p));
    }
    if (endpoints.has(`${String(t.host).toLowerCase()}:${t.port}`)) return true;
    return LOOPBACK.has(String(t.host).replace(/^\[|\]$/g, '')) && (!ports || ports.has(t.port));
  };
  const record = (kind, target) => {
    const entry = { kind, target, phase: phase() };
    blocked.push(entry);
    return new EgressBlockedError(target);
  };

  const originalConnect = net.Socket.prototype.connect;
  net.Socket.prototype.connect = function guardedConnect(...args) {
    const t = connectTarget(args);
    if (allowed(t)) return originalConnect.apply(this, args);
    const err = record('tcp', t.path ?? `${t.host}:${t.port}`);
    process.nextTick(() => this.destroy(err));
    return this;
  };

  const originalLookup = dns.lookup;
  dns.lookup = function guardedLookup(hostname, ...rest) {
    if (LOOPBACK.has(hostname) || lookups.has(String(hostname).toLowerCase())) return originalLookup.call(this, hostname, ...rest);
    const cb = rest[rest.length - 1];
    const err = record('dns', String(hostname));
    if (typeof cb === 'function') process.nextTick(() => cb(err));
    return undefined;
  };
  const originalPromiseLookup = dns.promises.lookup;
  dns.promises.lookup = async function guardedPromiseLookup(hostname, ...rest) {
    if (LOOPBACK.has(hostname) || lookups.has(String(hostname).toLowerCase())) return originalPromiseLookup.call(this, hostname, ...rest);
    throw record('dns', String(hostname));
  };

  const restore = [];
  const patch = (target, name, replacement) => {
    if (typeof target?.[name] !== 'function') return;
    restore.push([target, name, target[name]]);
    target[name] = replacement;
  };
  const refuseCallback = (label) =>
    function guardedQuery(...args) {
      const cb = args[args.length - 1];
      const err = record('dns', `${label} ${args[0]}`);
      if (typeof cb === 'function') process.nextTick(() => cb(err));
      return undefined;
    };
  const refusePromise = (label) =>
    async function guardedQuery(name) {
      throw record('dns', `${label} ${name}`);
    };
  for (const method of RESOLVER_METHODS) {
    for (const target of [dns, dns.Resolver.prototype]) patch(target, method, refuseCallback(method));
    for (const target of [dns.promises, dns.promises.Resolver.prototype]) patch(target, method, refusePromise(method));
  }
  const originalLookupService = dns.lookupService;
  patch(dns, 'lookupService', function guardedLookupService(address, port, cb) {
    if (LOOPBACK.has(address)) return originalLookupService.call(this, address, port, cb);
    const err = record('dns', `lookupService ${address}`);
    if (typeof cb === 'function') process.nextTick(() => cb(err));
    return undefined;
  });
  const originalPromiseLookupService = dns.promises.lookupService;
  patch(dns.promises, 'lookupService', async function guardedPromiseLookupService(address, port) {
    if (LOOPBACK.has(address)) return originalPromiseLookupService.call(this, address, port);
    throw record('dns', `lookupService ${address}`);
  });

  const originalSend = dgram.Socket.prototype.send;
  dgram.Socket.prototype.send = function guardedSend(msg, ...rest) {
    const address = rest.find((a) => typeof a === 'string');
    if (address && LOOPBACK.has(address)) return originalSend.call(this, msg, ...rest);
    const cb = rest[rest.length - 1];
    const err = record('udp', String(address ?? 'connected socket'));
    if (typeof cb === 'function') process.nextTick(() => cb(err));
    return undefined;
  };
  // `import { lookup } from 'node:dns'` binds the ESM export once: make those bindings the guarded ones.
  syncBuiltinESMExports();

  return {
    blocked,
    uninstall() {
      net.Socket.prototype.connect = originalConnect;
      dns.lookup = originalLookup;
      dns.promises.lookup = originalPromiseLookup;
      dgram.Socket.prototype.send = originalSend;
      for (const [target, name, original] of restore.reverse()) target[name] = original;
      syncBuiltinESMExports();
    },
  };
}
