#!/usr/bin/env node
// Compile step modules for profiling (see lib/compile.mjs). Reads a JSON job on stdin:
//   {"root": "...", "outDir": "...", "modules": ["plugins/x/steps/y.ts"], "shims": {...}, "aliases": {...}}
// and prints one JSON document: {"modules": {rel: {compiled|error}}, "shims": {...}, "shimDir": "..."}.
import fs from 'node:fs';

import { compileSteps } from './lib/compile.mjs';
import { writeAllSync } from './lib/write-sync.mjs';

const job = JSON.parse(fs.readFileSync(0, 'utf8'));
const result = await compileSteps(job);
writeAllSync(1, `${JSON.stringify(result)}\n`);
