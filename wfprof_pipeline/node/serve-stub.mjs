#!/usr/bin/env node
// The canned-response stub as its own process, shared by every step process of a profiling batch:
// no stub work ever runs in a profiled process (not even in a worker thread there).
//
//   node serve-stub.mjs     prints {"port": N} on stdout, then serves until stdin closes
//
// Each step process gets a tenant: PUT /__wfprof/tenants/<token> with its routes answers {port: M}, the
// tenant's own port and the step's base URL http://127.0.0.1:M; GET /__wfprof/tenants/<token>/log returns
// the requests it made (each with `at`, epoch ms, to split them by phase). See lib/stub-server.mjs.
import { createStubServer } from './lib/stub-server.mjs';
import { writeAllSync } from './lib/write-sync.mjs';

const stub = createStubServer([]);
const port = await stub.listen(0);
writeAllSync(1, `${JSON.stringify({ port })}\n`);
// The owner (Python) holds our stdin: when it closes or dies, stop.
process.stdin.on('data', () => {});
process.stdin.on('end', () => process.exit(0));
process.stdin.on('error', () => process.exit(0));
