import { readFileSync } from 'node:fs';
import { escapeHtml, jsonForScript, uniqueId } from './html';

/**
 * A Plotly figure as plain JSON (`{data, layout}`), exactly what `Plotly.newPlot(div, data,
 * layout, config)` takes. Builders in this module return these; {@link figureHtml} renders one.
 * Traces and layout are typed loosely on purpose: any Plotly attribute may be added.
 */
export interface Figure {
  data: PlotlyTrace[];
  layout: PlotlyLayout;
}

/** One Plotly trace, e.g. `{type: 'bar', x: [...], y: [...], name: 'curated'}`. */
export interface PlotlyTrace {
  type: string;
  name?: string;
  [attribute: string]: unknown;
}

/** Plotly layout attributes (title, axes, size, margins...). */
export interface PlotlyLayout {
  [attribute: string]: unknown;
}

/** Options shared by every chart builder. */
export interface ChartOptions {
  title?: string;
  xTitle?: string;
  yTitle?: string;
  /** Figure height in px (width follows the notebook's width). */
  height?: number;
}

let cachedBundle: string | null = null;

/** Path of the plotly.js bundle shipped in node_modules (plotly.js-dist-min). */
export function plotlyBundlePath(): string {
  return require.resolve('plotly.js-dist-min/plotly.min.js');
}

/**
 * The HTML that loads plotly.js into the page: one `<script>` with the whole minified bundle
 * inline (~4.8 MB), so the executed notebook and its nbconvert HTML export draw their plots
 * offline. Display it ONCE per notebook, in a cell before the first plot; plots displayed
 * before it wait for it (see {@link figureHtml}). A global flag makes a second copy a no-op
 * in the browser.
 */
export function plotlyInit(): string {
  if (cachedBundle === null) {
    // `</script` cannot occur inside a script element; the bundle has none today, this keeps
    // it that way for any future version.
    cachedBundle = readFileSync(plotlyBundlePath(), 'utf8').replace(/<\/(script)/gi, '<\\/$1');
  }
  return (
    '<div class="fat2019-plotly-init" style="font:12px sans-serif;color:#888">plotly.js loaded</div>' +
    '<script type="text/javascript">if (!window.Plotly) {\n' +
    cachedBundle +
    '\n}</script>'
  );
}

/** Options for {@link figureHtml}. */
export interface FigureHtmlOptions {
  /** DOM id of the plot's `<div>`; a unique one is made when absent. */
  id?: string;
  /** Plotly config; by default the mode bar shows on hover and the plot is responsive. */
  config?: Record<string, unknown>;
}

/**
 * Renders a figure as an HTML fragment: a `<div>` plus a `<script>` that calls
 * `Plotly.newPlot`. The script waits up to 20 s for plotly.js (loaded by {@link plotlyInit}),
 * then writes a hint into the div instead of failing silently.
 */
export function figureHtml(figure: Figure, options: FigureHtmlOptions = {}): string {
  const id = options.id ?? uniqueId('plot');
  const height = typeof figure.layout.height === 'number' ? figure.layout.height : 400;
  const config = options.config ?? { responsive: true, displaylogo: false };
  const payload = jsonForScript({ data: figure.data, layout: figure.layout, config });
  const jsId = jsonForScript(id);
  return (
    `<div id="${escapeHtml(id)}" class="fat2019-plot" style="width:100%;height:${height}px"></div>` +
    '<script type="text/javascript">(function () {' +
    `var id = ${jsId}, fig = ${payload}, tries = 0;` +
    'function draw() {' +
    ' var el = document.getElementById(id); if (!el) return;' +
    ' if (window.Plotly) { window.Plotly.newPlot(el, fig.data, fig.layout, fig.config); return; }' +
    ' if (++tries < 400) { setTimeout(draw, 50); return; }' +
    " el.textContent = 'plotly.js is not loaded: run the cell that displays plotlyInit() first.';" +
    '}' +
    'draw();' +
    '})();</script>'
  );
}

/** Builds the common layout from chart options. */
export function baseLayout(options: ChartOptions, extra: PlotlyLayout = {}): PlotlyLayout {
  const layout: PlotlyLayout = {
    height: options.height ?? 400,
    margin: { l: 60, r: 20, t: options.title ? 50 : 20, b: 50 },
    ...extra,
  };
  if (options.title) layout.title = { text: options.title };
  layout.xaxis = { ...(options.xTitle ? { title: { text: options.xTitle } } : {}), ...((extra.xaxis as object) ?? {}) };
  layout.yaxis = { ...(options.yTitle ? { title: { text: options.yTitle } } : {}), ...((extra.yaxis as object) ?? {}) };
  return layout;
}
