import { readFileSync } from 'node:fs';

/**
 * Label files of the Kaggle / FSDKaggle2019 layout: a small RFC 4180 CSV reader, the class
 * vocabulary, label CSVs (`fname,labels[,usage,...]`, where `labels` is a comma-separated list
 * inside one quoted field, e.g. `"Bark,Dog"`) and multi-hot targets.
 */

/** One CSV record with the 1-based physical line on which it starts (for error messages). */
export interface CsvRecord {
  fields: string[];
  line: number;
}

/**
 * Parses CSV text (RFC 4180): fields separated by `,`; a field in double quotes may contain
 * commas, CR/LF and doubled quotes (`""` → `"`); records end with LF or CRLF; a UTF-8 BOM and
 * a final newline are ignored; blank lines are skipped. Malformed quoting throws with
 * `source` and the line number.
 *
 * @param source file name used in error messages.
 * @param maxRecords stop after this many records (e.g. 1 to read a header only).
 */
export function parseCsvRecords(text: string, source = '<csv>', maxRecords = Infinity): CsvRecord[] {
  const records: CsvRecord[] = [];
  let i = text.charCodeAt(0) === 0xfeff ? 1 : 0;
  const n = text.length;
  let line = 1;
  while (i < n && records.length < maxRecords) {
    const startLine = line;
    const fields: string[] = [];
    let endOfRecord = false;
    while (!endOfRecord) {
      let value = '';
      if (text[i] === '"') {
        const quoteLine = line;
        i++;
        for (;;) {
          if (i >= n) throw new Error(`${source}:${quoteLine}: unterminated quoted field`);
          const ch = text[i];
          if (ch === '"') {
            if (text[i + 1] === '"') {
              value += '"';
              i += 2;
              continue;
            }
            i++;
            break;
          }
          if (ch === '\n') line++;
          value += ch;
          i++;
        }
        if (i < n && text[i] !== ',' && text[i] !== '\n' && !(text[i] === '\r' && text[i + 1] === '\n')) {
          throw new Error(`${source}:${line}: unexpected character ${JSON.stringify(text[i])} after a closing quote`);
        }
      } else {
        const start = i;
        while (i < n && text[i] !== ',' && text[i] !== '\n' && !(text[i] === '\r' && text[i + 1] === '\n')) {
          if (text[i] === '"') throw new Error(`${source}:${line}: a quote inside an unquoted field (quote the whole field and double the quote)`);
          i++;
        }
        value = text.slice(start, i);
      }
      fields.push(value);
      if (i >= n) {
        endOfRecord = true;
      } else if (text[i] === ',') {
        i++;
      } else {
        i += text[i] === '\r' ? 2 : 1;
        line++;
        endOfRecord = true;
      }
    }
    if (!(fields.length === 1 && fields[0] === '')) records.push({ fields, line: startLine });
  }
  return records;
}

/** {@link parseCsvRecords} without line numbers: the rows as string arrays. */
export function parseCsv(text: string, source = '<csv>'): string[][] {
  return parseCsvRecords(text, source).map((r) => r.fields);
}

/** Quotes a CSV field when it contains a comma, quote, CR or LF (RFC 4180). */
export function csvField(value: string): string {
  return /[",\r\n]/.test(value) ? `"${value.replace(/"/g, '""')}"` : value;
}

function readText(path: string, what: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (err) {
    throw new Error(`cannot read ${what} ${path}: ${(err as Error).message}`);
  }
}

/** A CSV file as header + records (with line numbers); an empty file throws. */
export function readCsvTable(path: string, what = 'CSV file'): { header: string[]; records: CsvRecord[] } {
  const records = parseCsvRecords(readText(path, what), path);
  if (records.length === 0) throw new Error(`${path}: empty ${what} (no header line)`);
  return { header: records[0].fields.map((h) => h.trim()), records: records.slice(1) };
}

function checkVocabulary(vocabulary: readonly string[], source: string): string[] {
  const seen = new Set<string>();
  for (const label of vocabulary) {
    if (label === '') throw new Error(`${source}: empty class name in the vocabulary`);
    if (seen.has(label)) throw new Error(`${source}: class "${label}" appears twice in the vocabulary`);
    seen.add(label);
  }
  if (vocabulary.length === 0) throw new Error(`${source}: the vocabulary has no classes`);
  return [...vocabulary];
}

/**
 * The class vocabulary = the columns of `sample_submission.csv` (or of any submission) after
 * `fname`, in file order (alphabetical for FSDKaggle2019). Only the header line is parsed.
 */
export function readVocabulary(sampleSubmissionPath: string): string[] {
  const text = readText(sampleSubmissionPath, 'sample submission');
  const header = parseCsvRecords(text, sampleSubmissionPath, 1)[0]?.fields.map((h) => h.trim());
  if (!header || header.length === 0) throw new Error(`${sampleSubmissionPath}: empty file, expected a header "fname,<classes>"`);
  if (header[0] !== 'fname') {
    throw new Error(`${sampleSubmissionPath}: the first column must be "fname", got "${header[0]}"`);
  }
  return checkVocabulary(header.slice(1), sampleSubmissionPath);
}

/**
 * The vocabulary from FSDKaggle2019's `vocabulary.csv`: lines `index,label` without a header,
 * returned in index order. The indices must be 0 .. n-1, each once.
 */
export function vocabularyFromFile(vocabularyCsvPath: string): string[] {
  const records = parseCsvRecords(readText(vocabularyCsvPath, 'vocabulary file'), vocabularyCsvPath);
  const labels: string[] = new Array(records.length);
  for (const { fields, line } of records) {
    if (fields.length !== 2) throw new Error(`${vocabularyCsvPath}:${line}: expected "index,label", got ${fields.length} fields`);
    const index = Number(fields[0]);
    if (!/^\d+$/.test(fields[0].trim()) || index >= records.length) {
      throw new Error(`${vocabularyCsvPath}:${line}: index must be an integer in [0, ${records.length}), got "${fields[0]}"`);
    }
    if (labels[index] !== undefined) throw new Error(`${vocabularyCsvPath}:${line}: index ${index} appears twice`);
    labels[index] = fields[1].trim();
  }
  return checkVocabulary(labels, vocabularyCsvPath);
}

/** One row of a label CSV. */
export interface LabeledClip {
  /** File name, e.g. `ac9e7a91.wav`. */
  fname: string;
  /** True labels (vocabulary names), in file order, duplicates removed; may be empty. */
  labels: string[];
  /** `usage` column when present (`Public` / `Private` in test_post_competition.csv). */
  usage?: string;
  /** Every other column (e.g. `freesound_id`, `license`), by header name. */
  extra: Record<string, string>;
}

/** Levenshtein distance (small strings; used for "did you mean"). */
function editDistance(a: string, b: string): number {
  const prev = new Array<number>(b.length + 1);
  for (let j = 0; j <= b.length; j++) prev[j] = j;
  for (let i = 1; i <= a.length; i++) {
    let diag = prev[0];
    prev[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const tmp = prev[j];
      prev[j] = Math.min(prev[j] + 1, prev[j - 1] + 1, diag + (a[i - 1] === b[j - 1] ? 0 : 1));
      diag = tmp;
    }
  }
  return prev[b.length];
}

/** The vocabulary entry closest to `label` (case-insensitive edit distance), or undefined. */
export function nearestLabel(label: string, vocabulary: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestD = Infinity;
  const lower = label.toLowerCase();
  for (const v of vocabulary) {
    const d = editDistance(lower, v.toLowerCase());
    if (d < bestD) {
      bestD = d;
      best = v;
    }
  }
  // A suggestion that shares less than half the characters only confuses.
  return best !== undefined && bestD <= Math.max(2, Math.floor(label.length / 2)) ? best : undefined;
}

/**
 * Reads a label CSV with columns `fname`, `labels` and optionally `usage` and others (the
 * Kaggle `train_curated.csv` / `train_noisy.csv` and the post-competition files). With a
 * `vocabulary`, every label must belong to it: an unknown one throws an Error naming the file,
 * line, clip and label, with the nearest vocabulary entry as a suggestion. Duplicate `fname`s
 * throw too.
 */
export function readLabelCsv(path: string, vocabulary?: readonly string[]): LabeledClip[] {
  const { header, records } = readCsvTable(path, 'label CSV');
  const fnameCol = header.indexOf('fname');
  const labelsCol = header.indexOf('labels');
  if (fnameCol < 0 || labelsCol < 0) {
    throw new Error(`${path}: a label CSV needs columns "fname" and "labels", got header "${header.join(',')}"`);
  }
  const usageCol = header.indexOf('usage');
  const known = vocabulary ? new Set(vocabulary) : undefined;
  const seen = new Map<string, number>();
  const clips: LabeledClip[] = [];
  for (const { fields, line } of records) {
    if (fields.length !== header.length) {
      throw new Error(`${path}:${line}: expected ${header.length} fields (${header.join(',')}), got ${fields.length}`);
    }
    const fname = fields[fnameCol].trim();
    if (fname === '') throw new Error(`${path}:${line}: empty fname`);
    const first = seen.get(fname);
    if (first !== undefined) throw new Error(`${path}:${line}: clip "${fname}" already listed on line ${first}`);
    seen.set(fname, line);
    const labels: string[] = [];
    for (const raw of fields[labelsCol].split(',')) {
      const label = raw.trim();
      if (label === '' || labels.includes(label)) continue;
      if (known && !known.has(label)) {
        const hint = nearestLabel(label, vocabulary!);
        throw new Error(`${path}:${line}: unknown label "${label}" for clip ${fname}${hint ? ` (did you mean "${hint}"?)` : ''}`);
      }
      labels.push(label);
    }
    const extra: Record<string, string> = {};
    header.forEach((h, k) => {
      if (k !== fnameCol && k !== labelsCol && k !== usageCol) extra[h] = fields[k];
    });
    const clip: LabeledClip = { fname, labels, extra };
    if (usageCol >= 0) clip.usage = fields[usageCol].trim();
    clips.push(clip);
  }
  return clips;
}

const indexCache = new WeakMap<readonly string[], Map<string, number>>();

/** label → class index for a vocabulary (cached per array: treat vocabularies as immutable). */
export function vocabularyIndex(vocabulary: readonly string[]): Map<string, number> {
  let index = indexCache.get(vocabulary);
  if (!index) {
    index = new Map(vocabulary.map((label, i) => [label, i] as [string, number]));
    indexCache.set(vocabulary, index);
  }
  return index;
}

/**
 * Multi-hot target of one clip: Float32Array `[vocabulary.length]`, 1 at each label's index.
 * An unknown label throws.
 */
export function multiHot(labels: readonly string[], vocabulary: readonly string[]): Float32Array {
  const index = vocabularyIndex(vocabulary);
  const out = new Float32Array(vocabulary.length);
  for (const label of labels) {
    const k = index.get(label);
    if (k === undefined) {
      const hint = nearestLabel(label, vocabulary);
      throw new Error(`unknown label "${label}"${hint ? ` (did you mean "${hint}"?)` : ''}`);
    }
    out[k] = 1;
  }
  return out;
}

/**
 * 0/1 label matrix of many clips: Uint8Array `[clips.length][vocabulary.length]` row-major,
 * the truth layout the metrics take. An unknown label throws, naming the clip.
 */
export function labelMatrix(clips: readonly { fname?: string; labels: readonly string[] }[], vocabulary: readonly string[]): Uint8Array {
  const index = vocabularyIndex(vocabulary);
  const C = vocabulary.length;
  const out = new Uint8Array(clips.length * C);
  clips.forEach((clip, r) => {
    for (const label of clip.labels) {
      const k = index.get(label);
      if (k === undefined) {
        const hint = nearestLabel(label, vocabulary);
        throw new Error(`unknown label "${label}" for clip ${clip.fname ?? `#${r}`}${hint ? ` (did you mean "${hint}"?)` : ''}`);
      }
      out[r * C + k] = 1;
    }
  });
  return out;
}

/**
 * Reads a vocabulary for scoring from a file: a submission-like CSV whose header is
 * `fname,<classes>` (e.g. `sample_submission.csv`) or an FSDKaggle2019 `vocabulary.csv`
 * (`index,label` lines).
 */
export function readVocabularyAny(path: string): string[] {
  try {
    return readVocabulary(path);
  } catch (err) {
    if (!/first column must be "fname"/.test((err as Error).message)) throw err;
    return vocabularyFromFile(path);
  }
}
