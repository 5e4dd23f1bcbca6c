// Keccak-256 (the pre-NIST padding Ethereum uses). Node's OpenSSL has sha3-256 but not keccak, and
// ethers refuses a broadcast unless the RPC returns keccak256(rawTx), so the stub computes it here.

const MASK = (1n << 64n) - 1n;
const ROTC = [1, 3, 6, 10, 15, 21, 28, 36, 45, 55, 2, 14, 27, 41, 56, 8, 25, 43, 62, 18, 39, 61, 20, 44];
const PILN = [10, 7, 11, 17, 18, 3, 5, 16, 8, 21, 24, 4, 15, 23, 19, 13, 12, 2, 20, 14, 22, 9, 6, 1];
const RC = (() => {
  const out = [];
  let r = 1n;
  for (let i = 0; i < 24; i++) {
    let c = 0n;
    for (let j = 0; j < 7; j++) {
      r = ((r << 1n) ^ ((r >> 7n) & 1n ? 0x71n : 0n)) & 0xffn;
      if (r & 2n) c ^= 1n << ((1n << BigInt(j)) - 1n);
    }
    out.push(c);
  }
  return out;
})();

const rotl = (x, n) => ((x << BigInt(n)) | (x >> BigInt(64 - n))) & MASK;

function keccakF(s) {
  for (let round = 0; round < 24; round++) {
    const c = [0, 1, 2, 3, 4].map((x) => s[x] ^ s[x + 5] ^ s[x + 10] ^ s[x + 15] ^ s[x + 20]);
    for (let x = 0; x < 5; x++) {
      const d = c[(x + 4) % 5] ^ rotl(c[(x + 1) % 5], 1);
      for (let y = 0; y < 25; y += 5) s[y + x] ^= d;
    }
    let t = s[1];
    for (let i = 0; i < 24; i++) {
      const j = PILN[i];
      const tmp = s[j];
      s[j] = rotl(t, ROTC[i]);
      t = tmp;
    }
    for (let y = 0; y < 25; y += 5) {
      const row = s.slice(y, y + 5);
      for (let x = 0; x < 5; x++) s[y + x] = row[x] ^ (~row[(x + 1) % 5] & MASK & row[(x + 2) % 5]);
    }
    s[0] ^= RC[round];
  }
}

/** @param {Uint8Array} data @returns {string} 0x-prefixed hex digest */
export function keccak256(data) {
  const rate = 136;
  const padded = new Uint8Array(Math.ceil((data.length + 1) / rate) * rate);
  padded.set(data);
  padded[data.length] ^= 0x01;
  padded[padded.length - 1] ^= 0x80;
  const s = new Array(25).fill(0n);
  for (let off = 0; off < padded.length; off += rate) {
    for (let i = 0; i < rate / 8; i++) {
      let lane = 0n;
      for (let b = 7; b >= 0; b--) lane = (lane << 8n) | BigInt(padded[off + i * 8 + b]);
      s[i] ^= lane;
    }
    keccakF(s);
  }
  let hex = '0x';
  for (let i = 0; i < 4; i++) {
    for (let b = 0; b < 8; b++) hex += Number((s[i] >> BigInt(8 * b)) & 0xffn).toString(16).padStart(2, '0');
  }
  return hex;
}

export function keccak256Hex(hex) {
  const clean = hex.startsWith('0x') ? hex.slice(2) : hex;
  return keccak256(Uint8Array.from(Buffer.from(clean, 'hex')));
}
