/**
 * A safe unpickler for the pickles PyTorch and fastai write: it executes no code.
 *
 * Python's pickle is a small stack machine whose `GLOBAL` + `REDUCE` opcodes call any importable
 * function with any arguments (`posix.system('…')`). This reader interprets the opcodes of
 * protocols 0–5 itself and never calls out: a `REDUCE` of an allow-listed rebuild function
 * (tensors, OrderedDict, numpy arrays, `functools.partial`, …) is re-implemented here; a
 * `NEWOBJ`/`BUILD` of any class becomes a plain {@link PyObject} record keeping its module,
 * name, arguments and state (fastai and `torch.nn` modules are data, not calls); anything else
 * (`os.system`, `builtins.eval`, `subprocess.*`, unknown functions) is refused with its name.
 *
 * Values: None → null, bool, int → number (bigint beyond 2^53), float → number, str → string,
 * bytes → Uint8Array, list and tuple → arrays, dict and OrderedDict → Map (insertion order),
 * set/frozenset → Set, classes and functions → {@link PyGlobal}, numpy arrays → {@link NdArray}.
 * Persistent ids (torch storages) are resolved by the caller's `persistentLoad`.
 */

/** A class or function named by a pickle (`GLOBAL module name`), never imported or called. */
export class PyGlobal {
  constructor(readonly module: string, readonly name: string) {}
  get qualifiedName(): string {
    return `${this.module}.${this.name}`;
  }
}

/** An instance of a class this reader does not rebuild: its class, constructor args and state. */
export class PyObject {
  /** `__setstate__` / `__dict__` state given by BUILD (usually a Map of attributes). */
  state: unknown = undefined;
  /** Items added by APPEND(S) (list subclasses) and SETITEM(S) (dict subclasses). */
  readonly listItems: unknown[] = [];
  readonly dictItems = new Map<unknown, unknown>();
  constructor(readonly module: string, readonly name: string, readonly args: readonly unknown[], readonly kwargs: Map<unknown, unknown> | null = null) {}
  get qualifiedName(): string {
    return `${this.module}.${this.name}`;
  }
  /** Attribute `key` of a `__dict__` state (undefined when absent or the state is not a dict). */
  attr(key: string): unknown {
    const s = this.state;
    if (s instanceof Map) return s.get(key);
    // (dict, slots) state of classes with __slots__
    if (Array.isArray(s) && s.length === 2) {
      for (const part of s) if (part instanceof Map && part.has(key)) return part.get(key);
    }
    return undefined;
  }
}

/** numpy dtype as numpy pickles it: kind and byte order from `numpy.dtype(name)` + BUILD state. */
class NpDtype {
  byteOrder = '|';
  constructor(readonly name: string) {}
}

/** A numpy array: numbers (row-major, as float64/bigint-free numbers), strings or objects. */
export interface NdArray {
  kind: 'ndarray';
  dtype: string;
  shape: number[];
  data: number[] | string[] | unknown[];
}

export type PersistentLoad = (pid: unknown) => unknown;

export interface UnpickleOptions {
  /** Resolves persistent ids (BINPERSID / PERSID); without it they are refused. */
  persistentLoad?: PersistentLoad;
  /** Byte offset where the pickle starts (default 0). */
  offset?: number;
  /** Name used in error messages (the file). */
  source?: string;
}

export interface UnpickleResult {
  value: unknown;
  /** Offset of the byte after STOP (where a following pickle starts). */
  end: number;
}

/** A refused or malformed pickle; the message names the source and the problem. */
class UnpicklingError extends Error {}

/**
 * Modules whose every name is refused as soon as a GLOBAL names it: they run programs, touch
 * files, or import code. (Allowed names are checked first; this list makes refusals explicit.)
 */
const DANGEROUS_MODULES = [
  'os', 'posix', 'nt', 'posixpath', 'subprocess', 'sys', 'shutil', 'socket', 'importlib', 'pickle', '_pickle',
  'marshal', 'types', 'runpy', 'code', 'codeop', 'ctypes', 'webbrowser', 'pty', 'commands', 'platform',
  'multiprocessing', 'threading', 'io', '_io', 'tempfile', 'glob', 'pathlib._local', 'inspect',
  'pdb', 'timeit', 'torch.hub', 'torch.ops', 'torch.jit', 'torch._C', 'numpy.testing', 'numpy.f2py', 'numpy.distutils',
];

/** builtins usable as data constructors; every other builtin (eval, exec, getattr, open, __import__, …) is refused. */
const SAFE_BUILTINS = new Set(['set', 'frozenset', 'slice', 'bytearray', 'bytes', 'list', 'dict', 'tuple', 'int', 'float', 'complex', 'str', 'bool', 'object', 'range']);

/**
 * Namespaces whose classes may appear as REDUCE targets and become records (enums, Path-like
 * objects and fastai/torch.nn classes pickled through `__reduce__`): nothing is called.
 */
const RECORD_NAMESPACES = ['fastai.', 'fastai', '__main__', 'torch.nn.', 'torch.optim.', 'pathlib', 'fastprogress.', 'enum', 'datetime', 'copy_reg', 'copyreg', 'typing'];

function moduleIn(module: string, list: readonly string[]): boolean {
  return list.some((m) => (m.endsWith('.') ? module.startsWith(m) : module === m || module.startsWith(m + '.')));
}

/** Python 2 module names that protocol ≤ 2 pickles use (fix_imports). */
function canonicalModule(module: string): string {
  if (module === '__builtin__') return 'builtins';
  if (module === 'copy_reg') return 'copyreg';
  if (module === '_operator') return 'operator';
  return module;
}

/** Python 2 builtin names (fix_imports) → Python 3's. */
const PY2_BUILTINS: Record<string, string> = { long: 'int', unicode: 'str', basestring: 'str', xrange: 'range' };

type Reducer = (args: unknown[], err: (msg: string) => never) => unknown;

/** Rebuild functions this reader re-implements (module.name → implementation). */
const REDUCERS = new Map<string, Reducer>();

/** Registers an allow-listed rebuild function (torchFile adds the torch ones). */
export function registerReducer(qualifiedName: string, fn: Reducer): void {
  REDUCERS.set(qualifiedName, fn);
}

function toSet(items: unknown): Set<unknown> {
  return new Set(items === undefined ? [] : (items as unknown[]));
}

registerReducer('collections.OrderedDict', (args) => {
  const m = new Map<unknown, unknown>();
  for (const pair of (args[0] as unknown[][] | undefined) ?? []) m.set(pair[0], pair[1]);
  return m;
});
registerReducer('collections.defaultdict', () => new Map());
registerReducer('builtins.set', (args) => toSet(args[0]));
registerReducer('builtins.frozenset', (args) => toSet(args[0]));
registerReducer('builtins.list', (args) => [...((args[0] as unknown[]) ?? [])]);
registerReducer('builtins.tuple', (args) => [...((args[0] as unknown[]) ?? [])]);
registerReducer('builtins.dict', () => new Map());
registerReducer('builtins.slice', (args) => ({ kind: 'slice', start: args[0], stop: args[1], step: args[2] }));
registerReducer('builtins.bytearray', (args, err) => bytesOf(args[0], args[1], err));
registerReducer('builtins.bytes', (args, err) => bytesOf(args[0], args[1], err));
registerReducer('_codecs.encode', (args, err) => bytesOf(args[0], args[1] ?? 'utf-8', err));
// Type annotations (fastai transforms keep their functions' annotations): `Optional[int]` pickles
// as operator.getitem(typing.Union, (int, type(None))). Kept as records; nothing is looked up.
registerReducer('operator.getitem', (args) => new PyObject('operator', 'getitem', args));
registerReducer('builtins.type', (args) => new PyObject('builtins', 'type', args));
registerReducer('functools.partial', (args) => new PyObject('functools', 'partial', args));
registerReducer('copyreg._reconstructor', (args, err) => {
  const cls = args[0];
  if (!(cls instanceof PyGlobal)) return err('copyreg._reconstructor of a non-class');
  return new PyObject(cls.module, cls.name, []);
});
registerReducer('torch.Size', (args) => [...((args[0] as unknown[]) ?? [])]);
registerReducer('torch.device', (args) => (args.length > 1 && args[1] != null ? `${String(args[0])}:${String(args[1])}` : String(args[0])));
registerReducer('numpy.dtype', (args) => new NpDtype(String(args[0])));
registerReducer('numpy.core.multiarray.scalar', (args, err) => {
  const dtype = args[0];
  if (!(dtype instanceof NpDtype)) return err('numpy scalar without a dtype');
  const raw = args[1];
  if (!(raw instanceof Uint8Array)) return err(`numpy scalar of ${dtype.name} without raw bytes`);
  return decodeRaw(raw, dtype, 1, err)[0];
});
registerReducer('numpy.core.multiarray._reconstruct', (args, err) => {
  const sub = args[0];
  if (!(sub instanceof PyGlobal) || sub.qualifiedName !== 'numpy.ndarray') err(`numpy _reconstruct of ${sub instanceof PyGlobal ? sub.qualifiedName : 'a non-class'}`);
  return { kind: 'ndarray', dtype: '', shape: [], data: [] } satisfies NdArray;
});
// protocol 5: numpy.core.numeric._frombuffer(buffer, dtype, shape, order)
registerReducer('numpy.core.numeric._frombuffer', (args, err) => {
  const [buf, dtype, shape, order] = args;
  if (!(buf instanceof Uint8Array) || !(dtype instanceof NpDtype)) return err('numpy _frombuffer without bytes and a dtype');
  const arr: NdArray = { kind: 'ndarray', dtype: '', shape: [], data: [] };
  buildNdArray(arr, [1, shape, dtype, order === 'F', buf], err);
  return arr;
});
REDUCERS.set('numpy._core.numeric._frombuffer', REDUCERS.get('numpy.core.numeric._frombuffer')!);
// numpy ≥ 1.25 pickles under numpy._core
REDUCERS.set('numpy._core.multiarray.scalar', REDUCERS.get('numpy.core.multiarray.scalar')!);
REDUCERS.set('numpy._core.multiarray._reconstruct', REDUCERS.get('numpy.core.multiarray._reconstruct')!);

function bytesOf(value: unknown, encoding: unknown, err: (m: string) => never): Uint8Array {
  if (value === undefined) return new Uint8Array(0);
  if (value instanceof Uint8Array) return value;
  if (Array.isArray(value)) return Uint8Array.from(value as number[]);
  if (typeof value !== 'string') err('bytes from a non-string');
  if (encoding === 'latin1' || encoding === 'latin-1') return Uint8Array.from(value, (c) => c.charCodeAt(0) & 0xff);
  return new TextEncoder().encode(value);
}

const NP_SIZES: Record<string, number> = { f: 0, i: 0, u: 0, b: 1 };

/** Decodes numpy raw bytes of a numeric or bool dtype (`<f4`, `float64`, `int64`, …) into numbers. */
function decodeNumbers(raw: Uint8Array, dtype: NpDtype, err: (m: string) => never): number[] {
  const name = dtype.name.replace(/^[<>=|]/, '');
  const m = /^(float|int|uint|bool|f|i|u|b)(\d*)$/.exec(name);
  if (!m) err(`numpy dtype '${dtype.name}' is not numeric`);
  const kind = m[1][0];
  const bits = m[2] ? Number(m[2]) : kind === 'b' ? 8 : 64;
  const size = m[1].length === 1 ? Number(m[2] || NP_SIZES[kind]) : bits / 8;
  if (dtype.byteOrder === '>') err(`numpy dtype '${dtype.name}': big-endian data is not supported`);
  const view = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
  const n = Math.floor(raw.byteLength / size);
  const out: number[] = new Array(n);
  for (let i = 0; i < n; i++) {
    const o = i * size;
    if (kind === 'f') out[i] = size === 4 ? view.getFloat32(o, true) : size === 8 ? view.getFloat64(o, true) : err(`numpy float of ${size} bytes`);
    else if (kind === 'b') out[i] = raw[o] ? 1 : 0;
    else if (size === 1) out[i] = kind === 'i' ? view.getInt8(o) : view.getUint8(o);
    else if (size === 2) out[i] = kind === 'i' ? view.getInt16(o, true) : view.getUint16(o, true);
    else if (size === 4) out[i] = kind === 'i' ? view.getInt32(o, true) : view.getUint32(o, true);
    else if (size === 8) out[i] = Number(kind === 'i' ? view.getBigInt64(o, true) : view.getBigUint64(o, true));
    else err(`numpy integer of ${size} bytes`);
  }
  return out;
}

/** numpy's ndarray.__setstate__((version, shape, dtype, is_fortran, rawdata)). */
function buildNdArray(arr: NdArray, state: unknown, err: (m: string) => never): void {
  const s = state as unknown[];
  if (!Array.isArray(s) || s.length < 4) err('numpy array state is not (version, shape, dtype, fortran, data)');
  const [shape, dtype, fortran, raw] = s.length === 5 ? s.slice(1) : s;
  if (!(dtype instanceof NpDtype)) err('numpy array state without a dtype');
  arr.shape = (shape as number[]).map(Number);
  arr.dtype = dtype.name;
  const count = arr.shape.reduce((a, b) => a * b, 1);
  if (fortran && arr.shape.length > 1) err('numpy arrays in Fortran order are not supported');
  if (Array.isArray(raw)) {
    arr.data = raw; // dtype object: the elements themselves
  } else if (raw instanceof Uint8Array) {
    arr.data = decodeRaw(raw, dtype, count, err);
  } else {
    err('numpy array state without data');
  }
  if (arr.data.length !== count) err(`numpy array of shape [${arr.shape}] holds ${arr.data.length} elements`);
}

/** numpy raw bytes of `count` elements: fixed-width unicode (UCS-4) or bytes strings, or numbers. */
function decodeRaw(raw: Uint8Array, dtype: NpDtype, count: number, err: (m: string) => never): string[] | number[] {
  const name = dtype.name.replace(/^[<>=|]/, '');
  if (/^(U|str)\d*$/.test(name)) {
    const width = count > 0 ? raw.byteLength / 4 / count : 0;
    const view = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
    const strings: string[] = [];
    for (let i = 0; i < count; i++) {
      let s = '';
      for (let j = 0; j < width; j++) {
        const cp = view.getUint32((i * width + j) * 4, true);
        if (cp === 0) break;
        s += String.fromCodePoint(cp);
      }
      strings.push(s);
    }
    return strings;
  }
  if (/^S\d*$/.test(name)) {
    const width = count > 0 ? raw.byteLength / count : 0;
    return Array.from({ length: count }, (_, i) => {
      const bytes = raw.subarray(i * width, (i + 1) * width);
      const z = bytes.indexOf(0);
      return new TextDecoder('latin1').decode(z >= 0 ? bytes.subarray(0, z) : bytes);
    });
  }
  return decodeNumbers(raw, dtype, err);
}

/**
 * Reads one pickle from `bytes` (at `options.offset`) without executing anything.
 * Throws {@link UnpicklingError} naming `options.source` for refused calls, unsupported
 * opcodes and truncated or malformed data.
 */
export function unpickle(bytes: Uint8Array, options: UnpickleOptions = {}): UnpickleResult {
  const source = options.source ?? 'pickle';
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let pos = options.offset ?? 0;
  const stack: unknown[] = [];
  const marks: number[] = [];
  const memo = new Map<number, unknown>();
  const err: (msg: string) => never = (msg) => {
    throw new UnpicklingError(`${source}: ${msg} (pickle byte ${pos})`);
  };
  const need = (n: number): void => {
    if (pos + n > bytes.length) err(`truncated: needs ${n} more byte(s) at offset ${pos} but the data ends at ${bytes.length}`);
  };
  const u8 = (): number => { need(1); return bytes[pos++]; };
  const u16 = (): number => { need(2); const v = view.getUint16(pos, true); pos += 2; return v; };
  const u32 = (): number => { need(4); const v = view.getUint32(pos, true); pos += 4; return v; };
  const i32 = (): number => { need(4); const v = view.getInt32(pos, true); pos += 4; return v; };
  const u64 = (): number => {
    need(8);
    const v = view.getBigUint64(pos, true);
    pos += 8;
    if (v > BigInt(Number.MAX_SAFE_INTEGER)) err(`length ${v} too large`);
    return Number(v);
  };
  const take = (n: number): Uint8Array => { need(n); const b = bytes.subarray(pos, pos + n); pos += n; return b; };
  const line = (): string => {
    const end = bytes.indexOf(0x0a, pos);
    if (end < 0) err('truncated: a text argument has no end of line');
    const s = new TextDecoder('latin1').decode(bytes.subarray(pos, end));
    pos = end + 1;
    return s;
  };
  const utf8 = (b: Uint8Array): string => new TextDecoder('utf-8').decode(b);
  const pop = (): unknown => {
    if (stack.length === 0 || (marks.length > 0 && stack.length <= marks[marks.length - 1])) err('stack underflow');
    return stack.pop();
  };
  const top = (): unknown => {
    if (stack.length === 0) err('stack underflow');
    return stack[stack.length - 1];
  };
  const popMark = (): unknown[] => {
    const m = marks.pop();
    if (m === undefined) err('MARK expected');
    return stack.splice(m!);
  };
  const longFromBytes = (b: Uint8Array): number | bigint => {
    if (b.length === 0) return 0;
    let v = 0n;
    for (let i = b.length - 1; i >= 0; i--) v = (v << 8n) | BigInt(b[i]);
    if (b[b.length - 1] & 0x80) v -= 1n << BigInt(8 * b.length);
    return v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v;
  };
  const global = (module: string, rawName: string): PyGlobal => {
    const mod = canonicalModule(module);
    const name = mod === 'builtins' ? PY2_BUILTINS[rawName] ?? rawName : rawName;
    const full = `${mod}.${name}`;
    if (REDUCERS.has(full)) return new PyGlobal(mod, name);
    if (mod === 'builtins') {
      if (SAFE_BUILTINS.has(name)) return new PyGlobal(mod, name);
      err(`refused: the pickle names ${full} (it could run code); only data classes and allow-listed rebuild functions are read`);
    }
    if (moduleIn(mod, DANGEROUS_MODULES)) err(`refused: the pickle names ${full} (it could run code); only data classes and allow-listed rebuild functions are read`);
    return new PyGlobal(mod, name);
  };
  const reduce = (callable: unknown, args: unknown[]): unknown => {
    if (!(callable instanceof PyGlobal)) err(`REDUCE of a non-global (${typeof callable})`);
    const fn = REDUCERS.get(callable.qualifiedName);
    if (fn) return fn(args, err);
    if (moduleIn(callable.module, RECORD_NAMESPACES)) return new PyObject(callable.module, callable.name, args);
    return err(`refused: the pickle calls ${callable.qualifiedName} (not an allow-listed rebuild function; nothing was executed)`);
  };
  const newObject = (cls: unknown, args: unknown[], kwargs: Map<unknown, unknown> | null): unknown => {
    if (!(cls instanceof PyGlobal)) err('NEWOBJ of a non-class');
    const full = cls.qualifiedName;
    if (full === 'collections.OrderedDict' || full === 'builtins.dict' || full === 'collections.defaultdict') return new Map();
    if (full === 'builtins.set' || full === 'builtins.frozenset') return toSet(args[0]);
    if (full === 'builtins.list') return [];
    if (full === 'builtins.object') return new PyObject('builtins', 'object', []);
    const fn = REDUCERS.get(full);
    if (fn) return fn(args, err);
    return new PyObject(cls.module, cls.name, args, kwargs);
  };
  const setItems = (target: unknown, kv: unknown[]): void => {
    if (kv.length % 2 !== 0) err('SETITEMS with an odd number of items');
    const map = target instanceof Map ? target : target instanceof PyObject ? target.dictItems : err('SETITEM on a non-dict');
    for (let i = 0; i < kv.length; i += 2) map.set(kv[i], kv[i + 1]);
  };
  const appendItems = (target: unknown, items: unknown[]): void => {
    if (Array.isArray(target)) target.push(...items);
    else if (target instanceof Set) for (const it of items) target.add(it);
    else if (target instanceof PyObject) target.listItems.push(...items);
    else err('APPEND to a non-list');
  };
  const build = (obj: unknown, state: unknown): void => {
    if (obj instanceof PyObject) {
      obj.state = state;
    } else if (obj instanceof NpDtype) {
      // (version, byteorder, subarray, names, fields, elsize, alignment, flags)
      const s = state as unknown[];
      if (Array.isArray(s) && typeof s[1] === 'string') obj.byteOrder = s[1];
    } else if (obj && typeof obj === 'object' && (obj as NdArray).kind === 'ndarray') {
      buildNdArray(obj as NdArray, state, err);
    } else if (obj instanceof Map) {
      // a dict subclass's __dict__: keep the items only
    } else if (obj !== null && typeof obj === 'object') {
      // torch tensors' python state (_rebuild_from_type / parameter attributes): ignored
    } else {
      err(`BUILD on ${obj === null ? 'None' : typeof obj}`);
    }
  };

  for (;;) {
    const opPos = pos;
    const op = u8();
    switch (op) {
      case 0x80: { // PROTO
        const proto = u8();
        if (proto > 5) err(`pickle protocol ${proto} is not supported (0–5)`);
        break;
      }
      case 0x95: take(8); break; // FRAME: frames are just a hint for readers of streams
      case 0x2e: { // STOP
        const value = pop();
        return { value, end: pos };
      }
      case 0x28: marks.push(stack.length); break; // MARK
      case 0x30: // POP (of an empty frame: the MARK, as Python does)
        if (marks.length > 0 && stack.length === marks[marks.length - 1]) marks.pop();
        else pop();
        break;
      case 0x31: popMark(); break; // POP_MARK
      case 0x32: stack.push(top()); break; // DUP
      // numbers
      case 0x4e: stack.push(null); break; // NONE
      case 0x88: stack.push(true); break; // NEWTRUE
      case 0x89: stack.push(false); break; // NEWFALSE
      case 0x4a: stack.push(i32()); break; // BININT
      case 0x4b: stack.push(u8()); break; // BININT1
      case 0x4d: stack.push(u16()); break; // BININT2
      case 0x8a: stack.push(longFromBytes(take(u8()))); break; // LONG1
      case 0x8b: { // LONG4
        const n = i32();
        if (n < 0) err('LONG4 with a negative length');
        stack.push(longFromBytes(take(n)));
        break;
      }
      case 0x49: { // INT (text; "00"/"01" are False/True)
        const s = line();
        if (s === '00') stack.push(false);
        else if (s === '01') stack.push(true);
        else stack.push(parseIntText(s, err));
        break;
      }
      case 0x4c: stack.push(parseIntText(line().replace(/L$/, ''), err)); break; // LONG (text)
      case 0x46: stack.push(Number(line())); break; // FLOAT (text)
      case 0x47: { need(8); stack.push(view.getFloat64(pos, false)); pos += 8; break; } // BINFLOAT (big-endian)
      // strings and bytes
      case 0x58: stack.push(utf8(take(u32()))); break; // BINUNICODE
      case 0x8c: stack.push(utf8(take(u8()))); break; // SHORT_BINUNICODE
      case 0x8d: stack.push(utf8(take(u64()))); break; // BINUNICODE8
      case 0x56: stack.push(decodeRawUnicodeEscape(line())); break; // UNICODE (text)
      case 0x54: { // BINSTRING (py2 str: bytes decoded as latin-1, as Python 3 reads them by default)
        const n = i32();
        if (n < 0) err('BINSTRING with a negative length');
        stack.push(new TextDecoder('latin1').decode(take(n)));
        break;
      }
      case 0x55: stack.push(new TextDecoder('latin1').decode(take(u8()))); break; // SHORT_BINSTRING
      case 0x53: stack.push(parseStringText(line(), err)); break; // STRING (text, quoted)
      case 0x42: stack.push(take(u32()).slice()); break; // BINBYTES
      case 0x43: stack.push(take(u8()).slice()); break; // SHORT_BINBYTES
      case 0x8e: stack.push(take(u64()).slice()); break; // BINBYTES8
      case 0x96: stack.push(take(u64()).slice()); break; // BYTEARRAY8
      case 0x97: err('out-of-band buffers (NEXT_BUFFER) are not supported'); break;
      case 0x98: break; // READONLY_BUFFER: no effect on a copy
      // containers
      case 0x29: stack.push([]); break; // EMPTY_TUPLE
      case 0x5d: stack.push([]); break; // EMPTY_LIST
      case 0x7d: stack.push(new Map()); break; // EMPTY_DICT
      case 0x8f: stack.push(new Set()); break; // EMPTY_SET
      case 0x85: stack.push([pop()]); break; // TUPLE1
      case 0x86: { const b = pop(); const a = pop(); stack.push([a, b]); break; } // TUPLE2
      case 0x87: { const c = pop(); const b = pop(); const a = pop(); stack.push([a, b, c]); break; } // TUPLE3
      case 0x74: stack.push(popMark()); break; // TUPLE
      case 0x6c: stack.push(popMark()); break; // LIST
      case 0x64: { const m = new Map(); setItems(m, popMark()); stack.push(m); break; } // DICT
      case 0x91: stack.push(new Set(popMark())); break; // FROZENSET
      case 0x61: { const v = pop(); appendItems(top(), [v]); break; } // APPEND
      case 0x65: { const items = popMark(); appendItems(top(), items); break; } // APPENDS
      case 0x73: { const v = pop(); const k = pop(); setItems(top(), [k, v]); break; } // SETITEM
      case 0x75: { const kv = popMark(); setItems(top(), kv); break; } // SETITEMS
      case 0x90: { const items = popMark(); appendItems(top(), items); break; } // ADDITEMS
      // memo
      case 0x70: memo.set(parseIntText(line(), err) as number, top()); break; // PUT
      case 0x71: memo.set(u8(), top()); break; // BINPUT
      case 0x72: memo.set(u32(), top()); break; // LONG_BINPUT
      case 0x94: memo.set(memo.size, top()); break; // MEMOIZE
      case 0x67: stack.push(memoGet(memo, parseIntText(line(), err) as number, err)); break; // GET
      case 0x68: stack.push(memoGet(memo, u8(), err)); break; // BINGET
      case 0x6a: stack.push(memoGet(memo, u32(), err)); break; // LONG_BINGET
      // classes and calls
      case 0x63: { const module = line(); const name = line(); stack.push(global(module, name)); break; } // GLOBAL
      case 0x93: { // STACK_GLOBAL
        const name = pop();
        const module = pop();
        if (typeof module !== 'string' || typeof name !== 'string') err('STACK_GLOBAL with non-string names');
        stack.push(global(module as string, name as string));
        break;
      }
      case 0x52: { // REDUCE
        const args = pop();
        const callable = pop();
        if (!Array.isArray(args)) err('REDUCE arguments are not a tuple');
        stack.push(reduce(callable, args as unknown[]));
        break;
      }
      case 0x81: { // NEWOBJ
        const args = pop();
        const cls = pop();
        stack.push(newObject(cls, Array.isArray(args) ? args : [args], null));
        break;
      }
      case 0x92: { // NEWOBJ_EX
        const kwargs = pop();
        const args = pop();
        const cls = pop();
        stack.push(newObject(cls, args as unknown[], kwargs instanceof Map ? kwargs : null));
        break;
      }
      case 0x69: { // INST (protocol 0): class named inline, args since MARK
        const module = line();
        const name = line();
        const cls = global(module, name);
        stack.push(newObject(cls, popMark(), null));
        break;
      }
      case 0x6f: { // OBJ (protocol 1): class and args since MARK
        const items = popMark();
        if (items.length === 0) err('OBJ without a class');
        stack.push(newObject(items[0], items.slice(1), null));
        break;
      }
      case 0x62: { const state = pop(); build(top(), state); break; } // BUILD
      case 0x51: { // BINPERSID
        const pid = pop();
        if (!options.persistentLoad) err('a persistent id (BINPERSID) but no persistent loader');
        stack.push(options.persistentLoad!(pid));
        break;
      }
      case 0x50: { // PERSID
        const pid = line();
        if (!options.persistentLoad) err('a persistent id (PERSID) but no persistent loader');
        stack.push(options.persistentLoad!(pid));
        break;
      }
      case 0x82: case 0x83: case 0x84:
        err('extension registry codes (EXT1/2/4) are not supported');
        break;
      default:
        pos = opPos;
        err(`unknown opcode 0x${op.toString(16).padStart(2, '0')} (not a pickle, or corrupted)`);
    }
  }
}

function memoGet(memo: Map<number, unknown>, key: number, err: (m: string) => never): unknown {
  if (!memo.has(key)) err(`memo key ${key} is not defined`);
  return memo.get(key);
}

function parseIntText(s: string, err: (m: string) => never): number | bigint {
  if (!/^[+-]?\d+$/.test(s.trim())) err(`bad integer '${s}'`);
  const v = BigInt(s.trim());
  return v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v;
}

function parseStringText(s: string, err: (m: string) => never): string {
  const q = s[0];
  if ((q !== "'" && q !== '"') || s[s.length - 1] !== q) err(`STRING argument is not quoted: ${s.slice(0, 40)}`);
  return decodeRawUnicodeEscape(s.slice(1, -1).replace(/\\(['"\\])/g, '$1'));
}

function decodeRawUnicodeEscape(s: string): string {
  return s.replace(/\\u([0-9a-fA-F]{4})|\\U([0-9a-fA-F]{8})/g, (_, a: string | undefined, b: string | undefined) => String.fromCodePoint(parseInt((a ?? b)!, 16)));
}
