import { deflateSync } from 'node:zlib';

/**
 * A minimal PNG encoder (8-bit greyscale or RGB, no interlace), enough to show spectrograms
 * as `<img>` data URIs without a canvas or an image library.
 */

const CRC_TABLE = (() => {
  const table = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    table[n] = c >>> 0;
  }
  return table;
})();

/** CRC-32 (ISO 3309, as PNG and zlib use it) of `bytes`. */
export function crc32(bytes: Uint8Array, crc = 0): number {
  let c = (crc ^ 0xffffffff) >>> 0;
  for (let i = 0; i < bytes.length; i++) c = CRC_TABLE[(c ^ bytes[i]) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

function chunk(type: string, data: Uint8Array): Buffer {
  const out = Buffer.alloc(12 + data.length);
  out.writeUInt32BE(data.length, 0);
  out.write(type, 4, 'ascii');
  Buffer.from(data.buffer, data.byteOffset, data.byteLength).copy(out, 8);
  out.writeUInt32BE(crc32(out.subarray(4, 8 + data.length)), 8 + data.length);
  return out;
}

/**
 * Encodes an image as PNG. `pixels` is row-major `[height][width][channels]` (row 0 = top of
 * the picture), channels 1 (grey) or 3 (RGB), one byte per sample.
 */
export function encodePng(pixels: Uint8Array, width: number, height: number, channels: 1 | 3): Buffer {
  if (!Number.isInteger(width) || width <= 0) throw new Error(`width must be a positive integer, got ${width}`);
  if (!Number.isInteger(height) || height <= 0) throw new Error(`height must be a positive integer, got ${height}`);
  if (channels !== 1 && channels !== 3) throw new Error(`channels must be 1 or 3, got ${channels}`);
  const stride = width * channels;
  if (pixels.length !== stride * height) {
    throw new Error(`pixels must have width*height*channels = ${stride * height} bytes, got ${pixels.length}`);
  }
  // Filter type 0 (none) before every row.
  const raw = new Uint8Array((stride + 1) * height);
  for (let y = 0; y < height; y++) raw.set(pixels.subarray(y * stride, (y + 1) * stride), y * (stride + 1) + 1);
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr[8] = 8; // bit depth
  ihdr[9] = channels === 1 ? 0 : 2; // colour type: grey / truecolour
  ihdr[10] = 0; // deflate
  ihdr[11] = 0; // filter method 0
  ihdr[12] = 0; // no interlace
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', ihdr),
    chunk('IDAT', deflateSync(raw)),
    chunk('IEND', new Uint8Array(0)),
  ]);
}

/** Colour maps for {@link applyColormap}: matplotlib's magma (librosa's default for dB) and viridis. */
export type ColormapName = 'magma' | 'viridis' | 'gray';

// Nine evenly spaced stops of each matplotlib map, interpolated linearly: close enough to the
// 256-entry originals for display.
const STOPS: Record<Exclude<ColormapName, 'gray'>, number[]> = {
  magma: [0x000004, 0x1c1044, 0x4f127b, 0x812581, 0xb5367a, 0xe55064, 0xfb8761, 0xfec287, 0xfcfdbf],
  viridis: [0x440154, 0x472d7b, 0x3b528b, 0x2c728e, 0x21918c, 0x28ae80, 0x5ec962, 0xaddc30, 0xfde725],
};

/** A 256-entry RGB lookup table `[256][3]` of the named colour map. */
export function colormapLut(name: ColormapName): Uint8Array {
  const lut = new Uint8Array(256 * 3);
  for (let i = 0; i < 256; i++) {
    if (name === 'gray') {
      lut[3 * i] = lut[3 * i + 1] = lut[3 * i + 2] = i;
      continue;
    }
    const stops = STOPS[name];
    if (!stops) throw new Error(`colormap must be one of magma, viridis, gray, got ${name}`);
    const pos = (i / 255) * (stops.length - 1);
    const k = Math.min(stops.length - 2, Math.floor(pos));
    const f = pos - k;
    for (let ch = 0; ch < 3; ch++) {
      const shift = 16 - 8 * ch;
      const a = (stops[k] >> shift) & 0xff;
      const b = (stops[k + 1] >> shift) & 0xff;
      lut[3 * i + ch] = Math.round(a + (b - a) * f);
    }
  }
  return lut;
}

/** Maps grey levels (0..255) to RGB through a colour map: `[n]` → `[n][3]`. */
export function applyColormap(grey: Uint8Array, name: ColormapName): Uint8Array {
  const lut = colormapLut(name);
  const out = new Uint8Array(grey.length * 3);
  for (let i = 0; i < grey.length; i++) {
    const j = 3 * grey[i];
    out[3 * i] = lut[j];
    out[3 * i + 1] = lut[j + 1];
    out[3 * i + 2] = lut[j + 2];
  }
  return out;
}

/** `data:image/png;base64,...` of PNG bytes. */
export function pngDataUri(png: Uint8Array): string {
  return 'data:image/png;base64,' + Buffer.from(png.buffer, png.byteOffset, png.byteLength).toString('base64');
}
