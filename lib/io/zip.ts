/**
 * A minimal zip reader for PyTorch's archives: the central directory (zip64 included) and
 * STORED entries, which is all `torch.save` writes. Compressed entries are refused by name.
 */

/** One file of the archive; `data` is a view into the archive's bytes. */
export interface ZipEntry {
  name: string;
  data: Uint8Array;
}

const EOCD = 0x06054b50;
const ZIP64_EOCD = 0x06064b50;
const ZIP64_LOCATOR = 0x07064b50;
const CENTRAL = 0x02014b50;
const LOCAL = 0x04034b50;

/**
 * Every entry of a zip archive by name. Throws an Error describing the problem (no end of
 * central directory, a compressed entry, an entry running past the end: truncated file).
 */
export function readZipEntries(bytes: Uint8Array): Map<string, ZipEntry> {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let eocd = -1;
  for (let i = bytes.length - 22; i >= Math.max(0, bytes.length - 22 - 65535); i--) {
    if (view.getUint32(i, true) === EOCD) { eocd = i; break; }
  }
  if (eocd < 0) throw new Error('zip archive without an end of central directory (truncated file?)');
  let count = view.getUint16(eocd + 10, true);
  let cdOffset = view.getUint32(eocd + 16, true);
  if (count === 0xffff || cdOffset === 0xffffffff) {
    const loc = eocd - 20;
    if (loc < 0 || view.getUint32(loc, true) !== ZIP64_LOCATOR) throw new Error('zip64 archive without a zip64 locator');
    const z = Number(view.getBigUint64(loc + 8, true));
    if (z + 56 > bytes.length || view.getUint32(z, true) !== ZIP64_EOCD) throw new Error('zip64 end of central directory is missing');
    count = Number(view.getBigUint64(z + 32, true));
    cdOffset = Number(view.getBigUint64(z + 48, true));
  }
  const entries = new Map<string, ZipEntry>();
  let p = cdOffset;
  for (let i = 0; i < count; i++) {
    if (p + 46 > bytes.length || view.getUint32(p, true) !== CENTRAL) throw new Error(`zip central directory entry ${i} is corrupted`);
    const method = view.getUint16(p + 10, true);
    let size = view.getUint32(p + 20, true);
    let compressed = view.getUint32(p + 24, true);
    const nameLen = view.getUint16(p + 28, true);
    const extraLen = view.getUint16(p + 30, true);
    const commentLen = view.getUint16(p + 32, true);
    let localOffset = view.getUint32(p + 42, true);
    const name = new TextDecoder().decode(bytes.subarray(p + 46, p + 46 + nameLen));
    // zip64 extended information: the 0xffffffff fields, in order
    let e = p + 46 + nameLen;
    const extraEnd = e + extraLen;
    while (e + 4 <= extraEnd) {
      const id = view.getUint16(e, true);
      const len = view.getUint16(e + 2, true);
      if (id === 0x0001) {
        let q = e + 4;
        if (size === 0xffffffff) { size = Number(view.getBigUint64(q, true)); q += 8; }
        if (compressed === 0xffffffff) { compressed = Number(view.getBigUint64(q, true)); q += 8; }
        if (localOffset === 0xffffffff) { localOffset = Number(view.getBigUint64(q, true)); q += 8; }
      }
      e += 4 + len;
    }
    if (method !== 0) throw new Error(`zip entry ${name} is compressed (method ${method}); torch.save stores entries uncompressed`);
    if (localOffset + 30 > bytes.length || view.getUint32(localOffset, true) !== LOCAL) throw new Error(`zip entry ${name}: local header missing (truncated file?)`);
    const start = localOffset + 30 + view.getUint16(localOffset + 26, true) + view.getUint16(localOffset + 28, true);
    if (start + size > bytes.length) throw new Error(`zip entry ${name} runs past the end of the file (truncated file?)`);
    entries.set(name, { name, data: bytes.subarray(start, start + size) });
    p = extraEnd + commentLen;
  }
  return entries;
}
