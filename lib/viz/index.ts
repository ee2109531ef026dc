/**
 * Notebook visualisation helpers. Every function is pure: it returns an HTML string or a Plotly
 * figure (`{data, layout}` JSON) and never touches the kernel, so it runs in tests too. In a
 * tslab notebook: display `plotlyInit()` once, then `show(figure)` (lib/notebook) or
 * `tslab.display.html(figureHtml(figure))`.
 */
export { escapeHtml, jsonForScript } from './html';
export type { Figure, PlotlyTrace, PlotlyLayout, ChartOptions, FigureHtmlOptions } from './plotly';
export { plotlyInit, figureHtml, plotlyBundlePath } from './plotly';
export type { ValueSeries, HistogramOptions, BarOptions, HeatmapValues, HeatmapOptions, LineSeries, LineChartOptions } from './charts';
export { binEdges, histogramCounts, histogram, bar, heatmap, lineChart, LiveLineChart, progressBar } from './charts';
export type { ColormapName } from './png';
export { encodePng, colormapLut, applyColormap, pngDataUri, crc32 } from './png';
export type { SpectrogramInput, SpectrogramOptions } from './spectrogram';
export { spectrogram, spectrogramPng, spectrogramFigure, spectrogramGrey } from './spectrogram';
export type { AudioElementOptions } from './audio';
export { wavBytes, audioElement } from './audio';
export type { GridItem, ImageGridOptions } from './grid';
export { imageGrid, htmlTable, notice } from './grid';
