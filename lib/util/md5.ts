/**
 * MD5 (RFC 1321) of bytes, in plain TypeScript: FLAC's STREAMINFO holds the MD5 of the decoded
 * samples, and the check must run in the browser page too (no node:crypto there).
 */

const S = [7, 12, 17, 22, 7, 12, 17, 22, 7, 12, 17, 22, 7, 12, 17, 22, 5, 9, 14, 20, 5, 9, 14, 20, 5, 9, 14, 20, 5, 9, 14, 20,
  4, 11, 16, 23, 4, 11, 16, 23, 4, 11, 16, 23, 4, 11, 16, 23, 6, 10, 15, 21, 6, 10, 15, 21, 6, 10, 15, 21, 6, 10, 15, 21];
const K = Int32Array.from({ length: 64 }, (_, i) => Math.floor(Math.abs(Math.sin(i + 1)) * 2 ** 32) | 0);

/** Incremental MD5: `update` with chunks, then `digest` (16 bytes). */
export class Md5 {
  private h = Int32Array.of(0x67452301, 0xefcdab89 | 0, 0x98badcfe | 0, 0x10325476);
  private block = new Uint8Array(64);
  private used = 0;
  private bytes = 0;
  private words = new Int32Array(16);

  update(data: Uint8Array): this {
    let i = 0;
    this.bytes += data.length;
    while (i < data.length) {
      const n = Math.min(64 - this.used, data.length - i);
      this.block.set(data.subarray(i, i + n), this.used);
      this.used += n;
      i += n;
      if (this.used === 64) {
        this.compress();
        this.used = 0;
      }
    }
    return this;
  }

  digest(): Uint8Array {
    const bits = this.bytes * 8;
    const pad = new Uint8Array(((this.used < 56 ? 56 : 120) - this.used) + 8);
    pad[0] = 0x80;
    const lenAt = pad.length - 8;
    for (let b = 0; b < 8; b++) pad[lenAt + b] = Math.floor(bits / 2 ** (8 * b)) & 0xff;
    this.update(pad);
    const out = new Uint8Array(16);
    for (let w = 0; w < 4; w++) for (let b = 0; b < 4; b++) out[4 * w + b] = (this.h[w] >>> (8 * b)) & 0xff;
    return out;
  }

  private compress(): void {
    const m = this.words;
    const blk = this.block;
    for (let w = 0; w < 16; w++) m[w] = blk[4 * w] | (blk[4 * w + 1] << 8) | (blk[4 * w + 2] << 16) | (blk[4 * w + 3] << 24);
    let a = this.h[0];
    let b = this.h[1];
    let c = this.h[2];
    let d = this.h[3];
    for (let i = 0; i < 64; i++) {
      let f: number;
      let g: number;
      if (i < 16) {
        f = (b & c) | (~b & d);
        g = i;
      } else if (i < 32) {
        f = (d & b) | (~d & c);
        g = (5 * i + 1) & 15;
      } else if (i < 48) {
        f = b ^ c ^ d;
        g = (3 * i + 5) & 15;
      } else {
        f = c ^ (b | ~d);
        g = (7 * i) & 15;
      }
      const x = (a + f + K[i] + m[g]) | 0;
      a = d;
      d = c;
      c = b;
      b = (b + ((x << S[i]) | (x >>> (32 - S[i])))) | 0;
    }
    this.h[0] = (this.h[0] + a) | 0;
    this.h[1] = (this.h[1] + b) | 0;
    this.h[2] = (this.h[2] + c) | 0;
    this.h[3] = (this.h[3] + d) | 0;
  }
}

/** MD5 of `data` as 32 lowercase hex digits. */
export function md5Hex(data: Uint8Array): string {
  return Array.from(new Md5().update(data).digest(), (b) => b.toString(16).padStart(2, '0')).join('');
}
