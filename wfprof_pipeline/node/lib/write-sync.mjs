// Write a whole string to a file descriptor synchronously. stdout may be a non-blocking pipe: one
// fs.writeSync can write only part of a large document (64 KiB) or fail with EAGAIN, and a process
// that exits right after would then hand Python a truncated document.
import fs from 'node:fs';

export function writeAllSync(fd, text) {
  const buf = Buffer.from(text);
  const nap = new Int32Array(new SharedArrayBuffer(4));
  for (let off = 0; off < buf.length; ) {
    try {
      off += fs.writeSync(fd, buf, off);
    } catch (err) {
      if (err.code !== 'EAGAIN') throw err;
      Atomics.wait(nap, 0, 0, 2);
    }
  }
}
