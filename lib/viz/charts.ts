import { baseLayout, ChartOptions, Figure, figureHtml, PlotlyTrace } from './plotly';
import { checkPositive, escapeHtml, uniqueId } from './html';

/** A named series of values, e.g. the durations of the curated clips. */
export interface ValueSeries {
  name: string;
  values: ArrayLike<number>;
}

/** Options of {@link histogram}. */
export interface HistogramOptions extends ChartOptions {
  /** Number of equal-width bins over `range` (default 40). */
  bins?: number;
  /** `[lo, hi]` of the bins; default: min and max over all series. Values outside are dropped. */
  range?: [number, number];
  /** `'count'` (default) or `'percent'` of each series' own total (compares sets of unequal size). */
  normalize?: 'count' | 'percent';
}

/**
 * `bins + 1` equal-width bin edges from `lo` to `hi`. A degenerate range (lo = hi) is widened
 * by 0.5 on each side so a constant series still gets a visible bar.
 */
export function binEdges(lo: number, hi: number, bins: number): Float64Array {
  checkPositive('bins', bins);
  if (!Number.isInteger(bins)) throw new Error(`bins must be an integer, got ${bins}`);
  if (!Number.isFinite(lo) || !Number.isFinite(hi) || hi < lo) throw new Error(`range must be finite with lo <= hi, got [${lo}, ${hi}]`);
  if (hi === lo) {
    lo -= 0.5;
    hi += 0.5;
  }
  const edges = new Float64Array(bins + 1);
  for (let i = 0; i < bins; i++) edges[i] = lo + ((hi - lo) * i) / bins;
  // Exactly `hi`: lo + (hi - lo) can round below it and drop the maximum from the last bin.
  edges[bins] = hi;
  return edges;
}

/**
 * Counts of `values` per bin: bin i holds edges[i] ≤ v < edges[i+1]; the last bin also holds
 * v = edges[last] (numpy.histogram convention). Values outside the edges and NaN are dropped.
 */
export function histogramCounts(values: ArrayLike<number>, edges: ArrayLike<number>): Int32Array {
  const bins = edges.length - 1;
  if (bins < 1) throw new Error(`edges must have at least 2 entries, got ${edges.length}`);
  const lo = edges[0];
  const hi = edges[bins];
  const counts = new Int32Array(bins);
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (!(v >= lo && v <= hi)) continue;
    // Equal-width edges: direct index, then nudge for floating-point error at the boundaries.
    let b = Math.min(bins - 1, Math.floor(((v - lo) / (hi - lo)) * bins));
    while (b > 0 && v < edges[b]) b--;
    while (b < bins - 1 && v >= edges[b + 1]) b++;
    counts[b]++;
  }
  return counts;
}

/**
 * A histogram of one or more series with shared bins, as overlaid bar traces (bins are
 * computed here, so a 20,000-clip series costs 40 numbers in the notebook, not 20,000).
 */
export function histogram(series: ValueSeries | ValueSeries[], options: HistogramOptions = {}): Figure {
  const list = Array.isArray(series) ? series : [series];
  if (list.length === 0) throw new Error('histogram: series must not be empty');
  let lo = Infinity;
  let hi = -Infinity;
  if (options.range) {
    [lo, hi] = options.range;
  } else {
    for (const s of list) {
      for (let i = 0; i < s.values.length; i++) {
        const v = s.values[i];
        if (Number.isFinite(v)) {
          if (v < lo) lo = v;
          if (v > hi) hi = v;
        }
      }
    }
    if (lo === Infinity) lo = hi = 0;
  }
  const edges = binEdges(lo, hi, options.bins ?? 40);
  const centers = Array.from({ length: edges.length - 1 }, (_, i) => (edges[i] + edges[i + 1]) / 2);
  const width = edges[1] - edges[0];
  const percent = options.normalize === 'percent';
  const data: PlotlyTrace[] = list.map((s) => {
    const counts = histogramCounts(s.values, edges);
    const total = counts.reduce((a, b) => a + b, 0);
    const y = Array.from(counts, (c) => (percent ? (total > 0 ? (100 * c) / total : 0) : c));
    return {
      type: 'bar',
      name: s.name,
      x: centers,
      y,
      width,
      opacity: list.length > 1 ? 0.6 : 0.9,
      hovertemplate: `${escapeHtml(s.name)}<br>%{x:.3g}<br>${percent ? '%{y:.2f}%' : '%{y} clips'}<extra></extra>`,
    };
  });
  return {
    data,
    layout: baseLayout(
      { yTitle: percent ? '% of clips' : 'clips', ...options },
      { barmode: 'overlay', bargap: 0, showlegend: list.length > 1 },
    ),
  };
}

/** Options of {@link bar}. */
export interface BarOptions extends ChartOptions {
  /** Bars left to right (default) or one row per category (long class names read better). */
  horizontal?: boolean;
  /** Order categories by the first series' value: 'desc', 'asc', or 'none' (given order). */
  sort?: 'desc' | 'asc' | 'none';
  /** How several series share a category: side by side ('group', default) or 'stack'. */
  barmode?: 'group' | 'stack' | 'overlay';
}

/**
 * A bar chart of `categories` × `series`. Horizontal charts get a height that fits every
 * category (about 16 px per row), the largest value at the top when sorted 'desc'.
 */
export function bar(categories: string[], series: ValueSeries | ValueSeries[], options: BarOptions = {}): Figure {
  const list = Array.isArray(series) ? series : [series];
  for (const s of list) {
    if (s.values.length !== categories.length) {
      throw new Error(`bar: series "${s.name}" has ${s.values.length} values for ${categories.length} categories`);
    }
  }
  let order = categories.map((_, i) => i);
  const sort = options.sort ?? 'none';
  if (sort !== 'none' && list.length > 0) {
    const v = list[0].values;
    order.sort((a, b) => (sort === 'desc' ? v[b] - v[a] : v[a] - v[b]) || a - b);
  }
  const horizontal = options.horizontal ?? false;
  // Plotly draws the first category of a horizontal bar chart at the bottom: reverse so the
  // chart reads top to bottom in the requested order.
  if (horizontal) order = order.reverse();
  const cats = order.map((i) => categories[i]);
  const data: PlotlyTrace[] = list.map((s) => {
    const vals = order.map((i) => s.values[i]);
    return horizontal
      ? { type: 'bar', orientation: 'h', name: s.name, y: cats, x: vals }
      : { type: 'bar', name: s.name, x: cats, y: vals };
  });
  const maxLabel = categories.reduce((m, c) => Math.max(m, c.length), 0);
  // Horizontal: a row per category, taller when several series share it.
  const height = options.height ?? (horizontal ? Math.max(300, (10 + 6 * list.length) * categories.length + 100) : 420);
  const layout = baseLayout(
    { ...options, height },
    {
      barmode: options.barmode ?? 'group',
      showlegend: list.length > 1,
      margin: horizontal
        ? { l: Math.min(320, 20 + 6.5 * maxLabel), r: 20, t: options.title ? 50 : 20, b: 50 }
        : { l: 60, r: 20, t: options.title ? 50 : 20, b: Math.min(260, 30 + 6 * maxLabel) },
    },
  );
  if (horizontal) {
    // The x/y titles refer to the visual axes, so swap what the caller meant for categories.
    layout.xaxis = options.yTitle ? { title: { text: options.yTitle } } : {};
    layout.yaxis = { ...(options.xTitle ? { title: { text: options.xTitle } } : {}), type: 'category', automargin: true, dtick: 1 };
  } else {
    // type 'category': labels such as '1', '2' must not turn into a numeric axis.
    layout.xaxis = { ...(layout.xaxis as object), type: 'category', tickangle: categories.length > 12 ? -60 : 0, automargin: true };
  }
  return { data, layout };
}

/** A matrix `[rows][cols]` row-major, as lists or a flat typed array. */
export type HeatmapValues = number[][] | { rows: number; cols: number; data: ArrayLike<number> };

/** Options of {@link heatmap}. */
export interface HeatmapOptions extends ChartOptions {
  /** Plotly colorscale name (default 'Viridis'). */
  colorscale?: string;
  /** Title of the colour bar. */
  zTitle?: string;
  /** Draw row 0 at the top (matrix convention, default) or at the bottom (image/plot convention). */
  rowZeroAtTop?: boolean;
}

/** Converts {@link HeatmapValues} to nested lists `[rows][cols]`, checking the shape. */
function toRows(values: HeatmapValues): number[][] {
  if (Array.isArray(values)) {
    const cols = values.length > 0 ? values[0].length : 0;
    values.forEach((r, i) => {
      if (r.length !== cols) throw new Error(`heatmap: row ${i} has ${r.length} values, row 0 has ${cols}`);
    });
    return values.map((r) => Array.from(r));
  }
  const { rows, cols, data } = values;
  if (rows * cols !== data.length) throw new Error(`heatmap: data length ${data.length} != rows*cols = ${rows}*${cols}`);
  const out: number[][] = [];
  for (let r = 0; r < rows; r++) out.push(Array.from({ length: cols }, (_, c) => data[r * cols + c]));
  return out;
}

/**
 * A heatmap of a matrix with optional row/column labels, e.g. the label co-occurrence matrix
 * `[numClasses][numClasses]` (x = column labels, y = row labels).
 */
export function heatmap(values: HeatmapValues, xLabels?: string[], yLabels?: string[], options: HeatmapOptions = {}): Figure {
  const z = toRows(values);
  const rows = z.length;
  const cols = rows > 0 ? z[0].length : 0;
  if (xLabels && xLabels.length !== cols) throw new Error(`heatmap: ${xLabels.length} x labels for ${cols} columns`);
  if (yLabels && yLabels.length !== rows) throw new Error(`heatmap: ${yLabels.length} y labels for ${rows} rows`);
  const trace: PlotlyTrace = {
    type: 'heatmap',
    z,
    colorscale: options.colorscale ?? 'Viridis',
    colorbar: options.zTitle ? { title: { text: options.zTitle } } : {},
    hovertemplate: '%{y} × %{x}: %{z}<extra></extra>',
  };
  if (xLabels) trace.x = xLabels;
  if (yLabels) trace.y = yLabels;
  const labelled = Boolean(xLabels || yLabels);
  const maxLabel = Math.max(0, ...(xLabels ?? []).map((l) => l.length), ...(yLabels ?? []).map((l) => l.length));
  const margin = labelled
    ? { l: Math.min(320, 20 + 6 * maxLabel), r: 20, t: options.title ? 50 : 20, b: Math.min(320, 20 + 6 * maxLabel) }
    : { l: 60, r: 20, t: options.title ? 50 : 20, b: 50 };
  // The rotated x labels take the bottom margin: size the figure so the cells keep >= 220 px
  // (about 18 px a row for many labels) whatever the label length.
  const plotHeight = Math.max(220, Math.min(900, 18 * rows));
  const layout = baseLayout({ height: plotHeight + margin.t + margin.b, ...options }, labelled ? { margin } : {});
  const rowZeroAtTop = options.rowZeroAtTop ?? true;
  // Many labels: smaller ticks so that every one shows without overlapping.
  const tickfont = { size: Math.max(rows, cols) > 30 ? 9 : 12 };
  layout.yaxis = { ...(layout.yaxis as object), autorange: rowZeroAtTop ? 'reversed' : true, automargin: true, ...(yLabels ? { dtick: 1, tickfont } : {}) };
  layout.xaxis = { ...(layout.xaxis as object), automargin: true, ...(xLabels ? { dtick: 1, tickangle: -60, tickfont } : {}) };
  return { data: [trace], layout };
}

/** A line series; `yAxis: 2` puts it on the right-hand axis (e.g. lwlrap next to the loss). */
export interface LineSeries {
  name: string;
  x: ArrayLike<number>;
  y: ArrayLike<number>;
  yAxis?: 1 | 2;
}

/** Options of {@link lineChart}. */
export interface LineChartOptions extends ChartOptions {
  /** Title of the right-hand axis (used when a series has `yAxis: 2`). */
  y2Title?: string;
  yRange?: [number, number];
  y2Range?: [number, number];
  /** Draw markers at the points (default true: epochs are few). */
  markers?: boolean;
}

/** A line chart of one or more series, optionally on two y axes. */
export function lineChart(series: LineSeries[], options: LineChartOptions = {}): Figure {
  const data: PlotlyTrace[] = series.map((s) => {
    if (s.x.length !== s.y.length) throw new Error(`lineChart: series "${s.name}" has ${s.x.length} x and ${s.y.length} y values`);
    return {
      type: 'scatter',
      mode: options.markers === false ? 'lines' : 'lines+markers',
      name: s.name,
      x: Array.from(s.x),
      y: Array.from(s.y),
      ...(s.yAxis === 2 ? { yaxis: 'y2' } : {}),
    };
  });
  const layout = baseLayout(options, { showlegend: true, legend: { orientation: 'h', y: -0.2 } });
  if (options.yRange) layout.yaxis = { ...(layout.yaxis as object), range: options.yRange };
  if (series.some((s) => s.yAxis === 2)) {
    layout.yaxis2 = {
      overlaying: 'y',
      side: 'right',
      ...(options.y2Title ? { title: { text: options.y2Title } } : {}),
      ...(options.y2Range ? { range: options.y2Range } : {}),
    };
    layout.margin = { l: 60, r: 60, t: options.title ? 50 : 20, b: 50 };
  }
  return { data, layout };
}

/**
 * A line chart that grows point by point, for training curves. It keeps the series; `html()`
 * renders the whole chart again (under the same DOM id). In a notebook, pair it with a display
 * that overwrites itself (`tslab.newDisplay()`, wrapped by `liveDisplay()` in lib/notebook):
 * every `push` then replaces the previous picture, live in Jupyter and as the final state in
 * an executed/exported notebook. (Plotly.extendTraces would not survive the export.)
 */
export class LiveLineChart {
  private readonly series = new Map<string, { x: number[]; y: number[]; yAxis: 1 | 2 }>();
  readonly id: string;

  /** `axes` names the series drawn on the right-hand axis: `{ 'valid lwlrap': 2 }`. */
  constructor(readonly options: LineChartOptions = {}, private readonly axes: Record<string, 1 | 2> = {}) {
    this.id = uniqueId('live');
  }

  /** Appends the point (x, y) to the series `name` (created on first use). */
  push(name: string, x: number, y: number): void {
    let s = this.series.get(name);
    if (!s) {
      s = { x: [], y: [], yAxis: this.axes[name] ?? 1 };
      this.series.set(name, s);
    }
    s.x.push(x);
    s.y.push(y);
  }

  /** Number of points of the series `name` (0 when absent). */
  length(name: string): number {
    return this.series.get(name)?.x.length ?? 0;
  }

  figure(): Figure {
    return lineChart(
      [...this.series.entries()].map(([name, s]) => ({ name, x: s.x, y: s.y, yAxis: s.yAxis })),
      this.options,
    );
  }

  html(): string {
    return figureHtml(this.figure(), { id: this.id });
  }
}

/** A progress bar as HTML: `done` of `total` steps, with a label (e.g. "stage 2, fold 1, epoch 3"). */
export function progressBar(done: number, total: number, label = ''): string {
  checkPositive('total', total);
  const frac = Math.max(0, Math.min(1, done / total));
  const pct = (100 * frac).toFixed(1);
  return (
    '<div style="font:13px sans-serif;margin:4px 0">' +
    `<div style="margin-bottom:2px">${escapeHtml(label)} <span style="color:#666">${done}/${total} (${pct}%)</span></div>` +
    '<div style="background:#e6e6e6;border-radius:3px;height:10px;width:100%;max-width:600px">' +
    `<div style="background:#1f77b4;height:10px;border-radius:3px;width:${pct}%"></div></div></div>`
  );
}
