/**
 * Dotted paths into a typed config object (`train.batchSize`, `augment.mixup.enabled`) and
 * `path=value` assignments checked against it, for `fat2019 train --set` and the notebooks.
 *
 * The types are derived from a reference object (the default config): a field whose default is
 * a number takes a finite number, a boolean takes true/false, an array of numbers takes a
 * comma list or a JSON array, a string takes one of its `choices` (when the caller lists
 * them: enums cannot be read off a value), and a null default takes JSON. A section (an
 * object) cannot be assigned whole; unknown paths get a "did you mean".
 */
import { UsageError } from './options';

/** Allowed values of the string fields, by path (e.g. `task.name`: multiLabel, singleLabel). */
export interface StringChoices {
  [path: string]: { values: readonly string[]; number?: boolean };
}

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

function isSection(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Every leaf path of `obj` (arrays and null are leaves), in declaration order. */
export function leafPaths(obj: unknown, prefix = ''): string[] {
  if (!isSection(obj)) return prefix ? [prefix] : [];
  return Object.entries(obj).flatMap(([k, v]) => leafPaths(v, prefix ? `${prefix}.${k}` : k));
}

/** The value at `path`, or undefined when a segment is missing. */
function getPath(obj: unknown, path: string): unknown {
  let cur: unknown = obj;
  for (const key of path.split('.')) {
    if (!isSection(cur) || !Object.prototype.hasOwnProperty.call(cur, key)) return undefined;
    cur = cur[key];
  }
  return cur;
}

/** Whether `path` names a field (null included) or a section of `obj`. */
function hasPath(obj: unknown, path: string): boolean {
  return getPath(obj, path) !== undefined;
}

/** A nested partial object holding `value` at `path` (`a.b` → `{ a: { b: value } }`). */
export function partialAt(path: string, value: unknown): Record<string, unknown> {
  const keys = path.split('.');
  let out: unknown = value;
  for (let i = keys.length - 1; i >= 0; i--) out = { [keys[i]]: out };
  return out as Record<string, unknown>;
}

function editDistance(a: string, b: string): number {
  const d = Array.from({ length: a.length + 1 }, (_, i) => [i, ...new Array<number>(b.length).fill(0)]);
  for (let j = 1; j <= b.length; j++) d[0][j] = j;
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      d[i][j] = Math.min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
  }
  return d[a.length][b.length];
}

/**
 * Paths of `reference` close to the unknown `path`: the same last segment elsewhere
 * (`batchSize` → train.batchSize, infer.batchSize), else the nearest by edit distance
 * (case-insensitive), at most 3.
 */
export function suggestPaths(reference: unknown, path: string): string[] {
  const all = leafPaths(reference);
  const last = path.split('.').pop()!.toLowerCase();
  const sameLeaf = all.filter((p) => p.split('.').pop()!.toLowerCase() === last);
  if (sameLeaf.length > 0) return sameLeaf.slice(0, 3);
  const lower = path.toLowerCase();
  const scored = all.map((p) => ({ p, d: Math.min(editDistance(lower, p.toLowerCase()), editDistance(last, p.split('.').pop()!.toLowerCase()) + 1) }));
  scored.sort((x, y) => x.d - y.d);
  const limit = Math.max(2, Math.ceil(path.length / 3));
  return scored.filter((s) => s.d <= limit).slice(0, 3).map((s) => s.p);
}

function parseBoolean(raw: string): boolean | undefined {
  const s = raw.trim().toLowerCase();
  if (['true', '1', 'yes', 'on'].includes(s)) return true;
  if (['false', '0', 'no', 'off'].includes(s)) return false;
  return undefined;
}

function parseNumber(raw: string): number | undefined {
  const n = Number(raw.trim());
  return raw.trim() !== '' && Number.isFinite(n) ? n : undefined;
}

/**
 * Parses `raw` as the type of `reference`'s field at `path`. Throws a UsageError naming the
 * option (`what`), the path, the expected type and the value.
 */
function parseFieldValue(reference: unknown, path: string, raw: string, choices: StringChoices = {}, what = '--set'): unknown {
  const current = getPath(reference, path);
  const bad = (expected: string): never => {
    throw new UsageError(`${what} ${path}=${raw}: ${path} takes ${expected}, got "${raw}"`);
  };
  if (isSection(current)) {
    throw new UsageError(`${what} ${path}=${raw}: ${path} is a section, not a field; set its fields, e.g. ${leafPaths(current, path).slice(0, 4).join(', ')}`);
  }
  const choice = choices[path];
  if (choice) {
    const s = raw.trim();
    if (choice.values.includes(s)) return s;
    if (choice.number) {
      const n = parseNumber(s);
      if (n !== undefined) return n;
    }
    return bad(`${choice.number ? 'a number or ' : ''}one of ${choice.values.join(', ')}`);
  }
  if (typeof current === 'number') return parseNumber(raw) ?? bad('a number');
  if (typeof current === 'boolean') return parseBoolean(raw) ?? bad('true or false');
  if (typeof current === 'string') return raw;
  if (Array.isArray(current)) {
    const s = raw.trim();
    let items: unknown[];
    if (s.startsWith('[')) {
      try {
        const parsed = JSON.parse(s) as unknown;
        if (!Array.isArray(parsed)) return bad('a list of numbers ("1,2,3" or [1,2,3])');
        items = parsed;
      } catch {
        return bad('a list of numbers ("1,2,3" or [1,2,3])');
      }
    } else {
      items = s === '' ? [] : s.split(',').map((p) => parseNumber(p) ?? NaN);
    }
    if (items.length === 0 || !items.every((x) => typeof x === 'number' && Number.isFinite(x))) return bad('a list of numbers ("1,2,3" or [1,2,3])');
    return items;
  }
  // null (optional objects such as model.inputNormalization): JSON.
  try {
    return JSON.parse(raw) as Json;
  } catch {
    return bad('JSON (null or an object)');
  }
}

/** One parsed `--set path=value`. */
export interface FieldAssignment {
  path: string;
  value: unknown;
  /** As written, for messages. */
  text: string;
}

/**
 * Parses `path=value` assignments against `reference`: unknown paths fail with a "did you
 * mean", bad values with the expected type; a path given twice fails. No side effects.
 */
export function parseAssignments(reference: unknown, assignments: readonly string[], choices: StringChoices = {}, what = '--set'): FieldAssignment[] {
  const out: FieldAssignment[] = [];
  for (const text of assignments) {
    const eq = text.indexOf('=');
    if (eq <= 0) throw new UsageError(`${what} takes path=value (e.g. ${what} train.batchSize=32), got "${text}"`);
    const path = text.slice(0, eq).trim();
    const raw = text.slice(eq + 1);
    if (!hasPath(reference, path)) {
      const near = suggestPaths(reference, path);
      throw new UsageError(`${what} ${text}: unknown setting "${path}"${near.length ? `; did you mean ${near.join(', ')}?` : ''} ` +
        `(sections: ${Object.keys(reference as object).join(', ')})`);
    }
    if (out.some((a) => a.path === path)) throw new UsageError(`${what} ${path} is given twice`);
    out.push({ path, value: parseFieldValue(reference, path, raw, choices, what), text });
  }
  return out;
}
