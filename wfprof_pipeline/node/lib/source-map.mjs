// Map positions in esbuild's compiled step files back to the TypeScript sources, so top functions
// name the line a developer can open. The compiler writes `<file>.mjs.map` next to each output without
// a sourceMappingURL comment, so Node itself never loads it (source maps inside a phase cost calls).

import fs from 'node:fs';
import path from 'node:path';

const B64 = Object.fromEntries([...'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/'].map((c, i) => [c, i]));

function decodeVlq(segment) {
  const out = [];
  let value = 0;
  let shift = 0;
  for (const ch of segment) {
    const digit = B64[ch];
    value += (digit & 31) << shift;
    if (digit & 32) {
      shift += 5;
    } else {
      out.push(value & 1 ? -(value >>> 1) : value >>> 1);
      value = 0;
      shift = 0;
    }
  }
  return out;
}

/** Parse a v3 source map into per-generated-line segments [genCol, source, srcLine, srcCol]. */
export function parseSourceMap(map, mapDir) {
  const sources = map.sources.map((s) => path.resolve(mapDir, map.sourceRoot ?? '', s));
  const lines = [];
  let src = 0;
  let srcLine = 0;
  let srcCol = 0;
  for (const line of map.mappings.split(';')) {
    let genCol = 0;
    const segs = [];
    for (const seg of line.split(',')) {
      if (!seg) continue;
      const v = decodeVlq(seg);
      genCol += v[0];
      if (v.length >= 4) {
        src += v[1];
        srcLine += v[2];
        srcCol += v[3];
        segs.push([genCol, src, srcLine, srcCol]);
      }
    }
    lines.push(segs);
  }
  return { sources, lines };
}

const cache = new Map();

/**
 * Original {file, line} of 1-based `line` / 0-based `column` in a compiled file, or null.
 * `entry` = the compiled file's source module, reported for unmapped module top-level code.
 */
export function originalPosition(compiledPath, line, column = 0, entry = null) {
  let parsed = cache.get(compiledPath);
  if (parsed === undefined) {
    try {
      const map = JSON.parse(fs.readFileSync(`${compiledPath}.map`, 'utf8'));
      parsed = parseSourceMap(map, path.dirname(compiledPath));
    } catch {
      parsed = null;
    }
    cache.set(compiledPath, parsed);
  }
  if (!parsed) return null;
  const segs = parsed.lines[line - 1];
  // No mapping there: the module's top level starts at a comment esbuild generated.
  if (!segs?.length) return { file: entry ?? parsed.sources[parsed.sources.length - 1], line: 1 };
  let best = segs[0];
  for (const seg of segs) if (seg[0] <= column) best = seg;
  return { file: parsed.sources[best[1]], line: best[2] + 1 };
}
