// Egress guard: no step may reach the network. Every TCP connect (net, http, https, fetch/undici, tls),
// DNS lookup and UDP send to anything but the allowed loopback endpoints is refused BEFORE it connects
// (no DNS query, no SYN): the socket errors with code EWFPROF_EGRESS_BLOCKED and the attempt is recorded.

import dgram from 'node:dgram';
import dns from 'node:dns';
import net from 'node:net';

const LOOPBACK = new Set(['127.0.0.1', '::1', 'localhost', '::ffff:127.0.0.1']);

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
 * @returns {{ blocked: object[], uninstall: () => void }}
 */
export function installEgressGuard({ allowPorts, allowUnixSockets = false, phase = () => '' } = {}) {
  const blocked = [];
  const ports = allowPorts?.length ? new Set(allowPorts.map(Number)) : null;
  const allowed = (t) => {
    if (t.path !== undefined) {
      if (allowUnixSockets === true) return true;
      return Array.isArray(allowUnixSockets) && allowUnixSockets.some((p) => t.path.startsWith(p));
    }
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
    if (LOOPBACK.has(hostname)) return originalLookup.call(this, hostname, ...rest);
    const cb = rest[rest.length - 1];
    const err = record('dns', String(hostname));
    if (typeof cb === 'function') process.nextTick(() => cb(err));
    return undefined;
  };
  const originalPromiseLookup = dns.promises.lookup;
  dns.promises.lookup = async function guardedPromiseLookup(hostname, ...rest) {
    if (LOOPBACK.has(hostname)) return originalPromiseLookup.call(this, hostname, ...rest);
    throw record('dns', String(hostname));
  };

  const originalSend = dgram.Socket.prototype.send;
  dgram.Socket.prototype.send = function guardedSend(msg, ...rest) {
    const address = rest.find((a) => typeof a === 'string');
    if (address && LOOPBACK.has(address)) return originalSend.call(this, msg, ...rest);
    const cb = rest[rest.length - 1];
    const err = record('udp', String(address ?? 'connected socket'));
    if (typeof cb === 'function') process.nextTick(() => cb(err));
    return undefined;
  };

  return {
    blocked,
    uninstall() {
      net.Socket.prototype.connect = originalConnect;
      dns.lookup = originalLookup;
      dns.promises.lookup = originalPromiseLookup;
      dgram.Socket.prototype.send = originalSend;
    },
  };
}
