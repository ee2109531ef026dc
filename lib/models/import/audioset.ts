/**
 * The 527 AudioSet classes in the output order of the PANNs taggers (`fc_audioset`), read from
 * ./audioset/class_labels_indices.csv (copied from the PANNs repository's metadata; class names
 * from the AudioSet ontology, CC BY-SA 4.0: see ./audioset/README.md for the attribution).
 */
import { join } from 'node:path';
import { readCsvTable } from '../../data/labels';

/** Number of AudioSet classes (the PANNs checkpoints' `fc_audioset` outputs). */
export const AUDIOSET_CLASS_COUNT = 527;

/** Path of the class list shipped with the toolkit. */
const AUDIOSET_LABELS_PATH = join(__dirname, 'audioset', 'class_labels_indices.csv');

/** The display names, index 0..526 (`Speech`, `Male speech, man speaking`, ...). */
export function audiosetClassNames(path = AUDIOSET_LABELS_PATH): string[] {
  const { header, records } = readCsvTable(path, 'AudioSet class list');
  const col = header.indexOf('display_name');
  const idx = header.indexOf('index');
  if (col < 0 || idx < 0) throw new Error(`${path}: needs the columns index and display_name, got ${header.join(', ')}`);
  const names = records.map((r, i) => {
    if (Number(r.fields[idx]) !== i) throw new Error(`${path}: row ${i + 2} has index ${r.fields[idx]}, expected ${i}`);
    return r.fields[col];
  });
  if (names.length !== AUDIOSET_CLASS_COUNT) throw new Error(`${path}: ${names.length} classes, expected ${AUDIOSET_CLASS_COUNT}`);
  return names;
}
