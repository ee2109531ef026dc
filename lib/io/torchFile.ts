/**
 * `torch.load` without Python: reads the files `torch.save` writes, in either format, through the
 * safe unpickler (./pickle), so loading a checkpoint never runs code.
 *
 * - Legacy format (PyTorch < 1.6 default; fastai v1 files): pickled magic number
 *   0x1950a86a20f9469cfc6c, protocol version 1001, sys info, the object pickle whose persistent
 *   ids are `('storage', storage_type, key, location, numel, view_metadata)`, the pickled list of
 *   storage keys, then each storage: an 8-byte little-endian element count and its raw data.
 * - Zip format (PyTorch ≥ 1.6): `<archive>/data.pkl` with ids `('storage', storage_type, key,
 *   location, numel)` and `<archive>/data/<key>` raw data (entries STORED, see ./zip).
 *
 * Storage locations (`cuda:0`, …) are ignored: everything loads on the CPU. Tensors hold their
 * storage and strides; {@link tensorToFloat32} copies one out as a contiguous Float32Array.
 */
import { readFileSync } from 'node:fs';
import { PyGlobal, registerReducer, unpickle } from './pickle';
import { readZipEntries, type ZipEntry } from './zip';

/** Element types of torch storages (`torch.FloatStorage` → float32, …). */
export type TorchDtype = 'float32' | 'float64' | 'float16' | 'bfloat16' | 'int64' | 'int32' | 'int16' | 'int8' | 'uint8' | 'bool';

const STORAGE_TYPES: Record<string, { dtype: TorchDtype; bytes: number }> = {
  FloatStorage: { dtype: 'float32', bytes: 4 },
  DoubleStorage: { dtype: 'float64', bytes: 8 },
  HalfStorage: { dtype: 'float16', bytes: 2 },
  BFloat16Storage: { dtype: 'bfloat16', bytes: 2 },
  LongStorage: { dtype: 'int64', bytes: 8 },
  IntStorage: { dtype: 'int32', bytes: 4 },
  ShortStorage: { dtype: 'int16', bytes: 2 },
  CharStorage: { dtype: 'int8', bytes: 1 },
  ByteStorage: { dtype: 'uint8', bytes: 1 },
  BoolStorage: { dtype: 'bool', bytes: 1 },
};

/** A torch storage: its element type and raw little-endian bytes (filled once read). */
export class TorchStorage {
  data: Uint8Array | null = null;
  constructor(readonly dtype: TorchDtype, readonly elementBytes: number, readonly key: string, readonly location: string, readonly numel: number) {}
}

/** A tensor: a strided view of a storage (`torch._utils._rebuild_tensor_v2`). */
export class TorchTensor {
  /** true when it was an `nn.Parameter` (`_rebuild_parameter`). */
  isParameter = false;
  constructor(readonly storage: TorchStorage, readonly offset: number, readonly shape: number[], readonly stride: number[]) {}
  get dtype(): TorchDtype {
    return this.storage.dtype;
  }
  get numel(): number {
    return this.shape.reduce((a, b) => a * b, 1);
  }
}

/** Thrown for unreadable torch files; the message names the file. */
class TorchFileError extends Error {}

const asNumberList = (v: unknown): number[] => (Array.isArray(v) ? v.map(Number) : []);

function rebuildTensor(args: unknown[], err: (m: string) => never): TorchTensor {
  const [storage, offset, size, stride] = args;
  if (!(storage instanceof TorchStorage)) return err('_rebuild_tensor_v2 without a storage');
  return new TorchTensor(storage, Number(offset), asNumberList(size), asNumberList(stride));
}

// The torch rebuild functions a checkpoint may call (allow-listed in ./pickle).
registerReducer('torch._utils._rebuild_tensor_v2', rebuildTensor);
registerReducer('torch._utils._rebuild_tensor', rebuildTensor);
registerReducer('torch._utils._rebuild_parameter', (args, err) => {
  const t = args[0];
  if (!(t instanceof TorchTensor)) return err('_rebuild_parameter without a tensor');
  t.isParameter = true;
  return t;
});
registerReducer('torch._utils._rebuild_parameter_with_state', (args, err) => {
  const t = args[0];
  if (!(t instanceof TorchTensor)) return err('_rebuild_parameter_with_state without a tensor');
  t.isParameter = true;
  return t;
});
registerReducer('torch._tensor._rebuild_from_type_v2', (args, err) => {
  // (func, new_type, args, state): func is itself an allow-listed rebuild function
  const [fn, , inner] = args;
  if (!(fn instanceof PyGlobal)) return err('_rebuild_from_type_v2 without a function');
  if (fn.qualifiedName !== 'torch._utils._rebuild_tensor_v2') return err(`refused: _rebuild_from_type_v2 of ${fn.qualifiedName}`);
  return rebuildTensor(inner as unknown[], err);
});

const LEGACY_MAGIC = 0x1950a86a20f9469cfc6cn;
const LEGACY_PROTOCOL = 1001;

/** What {@link loadTorchFile} returns: the unpickled object, with tensors bound to their data. */
export interface TorchFile {
  path: string;
  format: 'legacy' | 'zip';
  value: unknown;
}

function storageFromPid(pid: unknown, storages: Map<string, TorchStorage>, err: (m: string) => never): unknown {
  if (!Array.isArray(pid) || pid.length < 2) return err('malformed persistent id');
  const [tag, type, key, location, numel, viewMetadata] = pid as unknown[];
  if (tag === 'module') return type; // legacy format: nn.Module classes (with their source) by reference
  if (tag !== 'storage') return err(`unknown persistent id '${String(tag)}'`);
  if (pid.length < 5) return err('malformed storage persistent id');
  // torch ≥ 2 pickles a dtype (torch.float32) with torch.storage.UntypedStorage / TypedStorage
  if (!(type instanceof PyGlobal)) return err('storage without a type');
  const info = STORAGE_TYPES[type.name];
  if (!info) return err(`storage type ${type.qualifiedName} is not supported`);
  const k = String(key);
  let storage = storages.get(k);
  if (!storage) {
    storage = new TorchStorage(info.dtype, info.bytes, k, String(location), Number(numel));
    storages.set(k, storage);
  }
  if (viewMetadata != null) {
    // legacy views: (view_key, offset, view_size) into the root storage
    const [viewKey, offset, size] = viewMetadata as unknown[];
    const vk = `${k}/view/${String(viewKey)}/${Number(offset)}/${Number(size)}`;
    let view = storages.get(vk);
    if (!view) {
      view = new TorchStorage(info.dtype, info.bytes, vk, String(location), Number(size));
      storages.set(vk, view);
    }
    return view;
  }
  return storage;
}

/** Binds legacy storage views to the bytes of their root storages. */
function bindViews(storages: Map<string, TorchStorage>, fail: (m: string) => never): void {
  for (const [key, s] of storages) {
    const m = /^(.*)\/view\/[^/]*\/(\d+)\/(\d+)$/.exec(key);
    if (!m) continue;
    const root = storages.get(m[1]);
    if (!root?.data) fail(`storage view ${key} has no root storage`);
    const start = Number(m[2]) * s.elementBytes;
    s.data = root!.data!.subarray(start, start + Number(m[3]) * s.elementBytes);
  }
}

/** Checks every tensor against its storage: too-short storages are an error naming the file. */
function checkTensors(value: unknown, fail: (m: string) => never): void {
  // iterative: a hostile pickle may nest containers deeper than the call stack
  const seen = new Set<unknown>();
  const todo: unknown[] = [value];
  while (todo.length > 0) {
    const v = todo.pop();
    if (v === null || typeof v !== 'object' || seen.has(v) || ArrayBuffer.isView(v) || v instanceof TorchStorage) continue;
    seen.add(v);
    if (v instanceof TorchTensor) {
      const s = v.storage;
      if (!s.data) return fail(`tensor [${v.shape}] refers to storage ${s.key}, which the file does not contain`);
      if (v.shape.length !== v.stride.length || v.offset < 0 || v.shape.some((d) => !Number.isInteger(d) || d < 0)) {
        return fail(`tensor with shape [${v.shape}], stride [${v.stride}] and offset ${v.offset} is malformed`);
      }
      let last = v.offset;
      for (let d = 0; d < v.shape.length; d++) last += (v.shape[d] - 1) * v.stride[d];
      const needed = v.numel === 0 ? 0 : (last + 1) * s.elementBytes;
      if (needed > s.data.byteLength) {
        return fail(`tensor [${v.shape}] needs ${needed} bytes of storage ${s.key} but the storage holds ${s.data.byteLength} (truncated or corrupted file)`);
      }
      continue;
    }
    if (v instanceof Map) for (const [k, x] of v) todo.push(k, x);
    else if (Array.isArray(v) || v instanceof Set) for (const x of v) todo.push(x);
    else for (const x of Object.values(v)) todo.push(x);
  }
}

function isZip(bytes: Uint8Array): boolean {
  return bytes.length >= 4 && bytes[0] === 0x50 && bytes[1] === 0x4b && bytes[2] === 0x03 && bytes[3] === 0x04;
}

/**
 * Reads a file written by `torch.save` (legacy or zip format). Throws {@link TorchFileError}
 * (or UnpicklingError) naming `path` for refused pickles, truncated files and storages shorter
 * than their tensors.
 */
export function loadTorchFile(path: string): TorchFile {
  let bytes: Uint8Array;
  try {
    bytes = readFileSync(path);
  } catch (e) {
    throw new TorchFileError(`${path}: cannot read (${(e as Error).message})`);
  }
  return loadTorchBytes(bytes, path);
}

/** {@link loadTorchFile} on bytes in memory; `path` names them in errors. */
export function loadTorchBytes(bytes: Uint8Array, path: string): TorchFile {
  const fail = (m: string): never => {
    throw new TorchFileError(`${path}: ${m}`);
  };
  const storages = new Map<string, TorchStorage>();
  const persistentLoad = (pid: unknown): unknown => storageFromPid(pid, storages, (m) => fail(m));
  if (isZip(bytes)) {
    let entries: Map<string, ZipEntry>;
    try {
      entries = readZipEntries(bytes);
    } catch (e) {
      return fail((e as Error).message);
    }
    const pkl = [...entries.keys()].find((n) => n.endsWith('/data.pkl') || n === 'data.pkl');
    if (!pkl) return fail('a zip file without data.pkl (not a torch.save file)');
    const prefix = pkl.slice(0, pkl.length - 'data.pkl'.length);
    const { value } = unpickle(entries.get(pkl)!.data, { persistentLoad, source: `${path} (${pkl})` });
    for (const s of storages.values()) {
      const entry = entries.get(`${prefix}data/${s.key}`);
      if (!entry) fail(`storage ${s.key} (${prefix}data/${s.key}) is missing from the archive`);
      s.data = entry!.data;
    }
    checkTensors(value, fail);
    return { path, format: 'zip', value };
  }
  if (bytes.length < 2 || bytes[0] !== 0x80) {
    if (bytes.length > 262 && new TextDecoder('latin1').decode(bytes.subarray(257, 262)) === 'ustar') {
      return fail('the tar format of PyTorch < 0.4 is not supported (re-save it with a newer torch)');
    }
    const head = new TextDecoder('latin1').decode(bytes.subarray(0, 200));
    if (head.startsWith('version https://git-lfs.github.com/spec/')) {
      const size = /\nsize (\d+)/.exec(head)?.[1];
      return fail(`a git-lfs pointer file (${bytes.length} bytes${size ? ` standing for ${size} bytes` : ''}), not the checkpoint itself: fetch the real file with 'git lfs pull' (git-lfs installed) and import again`);
    }
    return fail('not a PyTorch file (neither a zip archive nor a legacy pickle)');
  }
  const source = path;
  let r = unpickle(bytes, { source });
  if (typeof r.value === 'bigint' && r.value === LEGACY_MAGIC) {
    r = unpickle(bytes, { offset: r.end, source });
    if (r.value !== LEGACY_PROTOCOL) fail(`legacy protocol version ${String(r.value)}, expected ${LEGACY_PROTOCOL}`);
    const sysInfo = unpickle(bytes, { offset: r.end, source });
    const info = sysInfo.value instanceof Map ? sysInfo.value : null;
    if (info && info.get('little_endian') === false) fail('written on a big-endian machine: not supported');
    const main = unpickle(bytes, { offset: sysInfo.end, source, persistentLoad });
    const keys = unpickle(bytes, { offset: main.end, source });
    if (!Array.isArray(keys.value)) fail('the storage key list after the object pickle is missing');
    let pos = keys.end;
    for (const key of keys.value as unknown[]) {
      const s = storages.get(String(key));
      if (!s) fail(`storage ${String(key)} is listed but no tensor uses it`);
      if (pos + 8 > bytes.length) fail(`truncated: storage ${String(key)} starts at byte ${pos} but the file ends at ${bytes.length}`);
      const count = new DataView(bytes.buffer, bytes.byteOffset + pos, 8).getBigInt64(0, true);
      pos += 8;
      const n = Number(count) * s!.elementBytes;
      if (count < 0n || pos + n > bytes.length) {
        fail(`truncated: storage ${String(key)} needs ${n} bytes at byte ${pos} but the file ends at ${bytes.length}`);
      }
      s!.data = bytes.subarray(pos, pos + n);
      pos += n;
    }
    bindViews(storages, fail);
    checkTensors(main.value, fail);
    return { path, format: 'legacy', value: main.value };
  }
  // A plain pickle (no torch header) may still hold data without tensors.
  if (storages.size > 0) fail('tensors outside a torch file');
  return { path, format: 'legacy', value: r.value };
}

/** A tensor's elements as a contiguous row-major Float32Array (float32/float64/float16/ints). */
export function tensorToFloat32(t: TorchTensor): Float32Array {
  const s = t.storage;
  if (!s.data) throw new TorchFileError(`tensor [${t.shape}]: storage ${s.key} has no data`);
  const n = t.numel;
  if (t.dtype === 'float32' && isContiguous(t)) {
    // one copy of the bytes (also realigns: storages in a file start at any byte offset)
    const start = s.data.byteOffset + t.offset * 4;
    return new Float32Array(s.data.buffer.slice(start, start + n * 4));
  }
  const view = new DataView(s.data.buffer, s.data.byteOffset, s.data.byteLength);
  const read = elementReader(t.dtype, view);
  const out = new Float32Array(n);
  const rank = t.shape.length;
  const index = new Array<number>(rank).fill(0);
  for (let i = 0; i < n; i++) {
    let off = t.offset;
    for (let d = 0; d < rank; d++) off += index[d] * t.stride[d];
    out[i] = read(off);
    for (let d = rank - 1; d >= 0; d--) {
      if (++index[d] < t.shape[d]) break;
      index[d] = 0;
    }
  }
  return out;
}

function isContiguous(t: TorchTensor): boolean {
  let expected = 1;
  for (let d = t.shape.length - 1; d >= 0; d--) {
    if (t.shape[d] !== 1 && t.stride[d] !== expected) return false;
    expected *= t.shape[d];
  }
  return true;
}

function elementReader(dtype: TorchDtype, v: DataView): (i: number) => number {
  switch (dtype) {
    case 'float32': return (i) => v.getFloat32(i * 4, true);
    case 'float64': return (i) => v.getFloat64(i * 8, true);
    case 'float16': return (i) => halfToFloat(v.getUint16(i * 2, true));
    case 'bfloat16': return (i) => new Float32Array(new Uint32Array([v.getUint16(i * 2, true) << 16]).buffer)[0];
    case 'int64': return (i) => Number(v.getBigInt64(i * 8, true));
    case 'int32': return (i) => v.getInt32(i * 4, true);
    case 'int16': return (i) => v.getInt16(i * 2, true);
    case 'int8': return (i) => v.getInt8(i);
    case 'uint8': case 'bool': return (i) => v.getUint8(i);
  }
}

function halfToFloat(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >> 10) & 0x1f;
  const frac = h & 0x3ff;
  if (exp === 0) return sign * 2 ** -14 * (frac / 1024);
  if (exp === 31) return frac ? NaN : sign * Infinity;
  return sign * 2 ** (exp - 15) * (1 + frac / 1024);
}

