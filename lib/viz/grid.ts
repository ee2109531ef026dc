import { escapeHtml } from './html';

/** One cell of an {@link imageGrid}: a title and any HTML (a spectrogram, an audio player...). */
export interface GridItem {
  title: string;
  html: string;
}

/** Options of {@link imageGrid}. */
export interface ImageGridOptions {
  /** Columns of the grid (default 3). */
  columns?: number;
  title?: string;
}

/**
 * Lays HTML fragments out in a CSS grid with a caption per cell, e.g. one spectrogram per
 * augmentation of the same clip. The fragments are inserted as given (they are HTML).
 */
export function imageGrid(items: GridItem[], options: ImageGridOptions = {}): string {
  const columns = options.columns ?? 3;
  if (!Number.isInteger(columns) || columns < 1) throw new Error(`columns must be a positive integer, got ${columns}`);
  const cells = items
    .map(
      (it) =>
        '<div style="min-width:0;border:1px solid #e3e3e3;border-radius:4px;padding:6px">' +
        `<div style="font:bold 12px sans-serif;margin-bottom:4px">${escapeHtml(it.title)}</div>${it.html}</div>`,
    )
    .join('');
  return (
    '<div style="font:12px sans-serif">' +
    (options.title ? `<div style="font:bold 14px sans-serif;margin:4px 0">${escapeHtml(options.title)}</div>` : '') +
    `<div style="display:grid;grid-template-columns:repeat(${columns},minmax(0,1fr));gap:8px">${cells}</div></div>`
  );
}

/** A small HTML table: `columns` header, `rows` of cells (numbers formatted with `digits`). */
export function htmlTable(columns: string[], rows: (string | number)[][], digits = 4): string {
  const fmt = (v: string | number) => (typeof v === 'number' && !Number.isInteger(v) ? v.toFixed(digits) : String(v));
  const head = columns.map((c) => `<th style="text-align:left;padding:2px 8px;border-bottom:1px solid #999">${escapeHtml(c)}</th>`).join('');
  const body = rows
    .map((r) => '<tr>' + r.map((v) => `<td style="padding:2px 8px;text-align:${typeof v === 'number' ? 'right' : 'left'}">${escapeHtml(fmt(v))}</td>`).join('') + '</tr>')
    .join('');
  return `<table style="border-collapse:collapse;font:12px sans-serif;margin:4px 0"><thead><tr>${head}</tr></thead><tbody>${body}</tbody></table>`;
}

/** A highlighted note, e.g. "no audio found in data/fsdkaggle2019/train_curated: ...". */
export function notice(text: string, kind: 'info' | 'warning' = 'info'): string {
  const colour = kind === 'warning' ? '#b26a00' : '#1f5fa8';
  const bg = kind === 'warning' ? '#fff4e0' : '#eaf2fb';
  return `<div style="font:13px sans-serif;border-left:4px solid ${colour};background:${bg};padding:6px 10px;margin:4px 0">${escapeHtml(text)}</div>`;
}
