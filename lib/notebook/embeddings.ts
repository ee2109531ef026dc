/**
 * The own-data notebook's view of a run's embeddings (lib/infer/embed): the labelled clips'
 * penultimate-layer vectors projected on their first two principal components, one colour per
 * label (the first label of a multi-label clip).
 */
import { join } from 'node:path';
import type { DataLayout } from '../data/layout';
import { embedFiles } from '../infer/embed';
import type { Figure } from '../viz/plotly';

/**
 * The first `k` principal components of `values` (`[rows][dims]`, centred here): scores
 * `[rows][k]` and the fraction of the variance each explains. Power iteration on the covariance
 * with deflation, deterministic start; sign fixed so each component's largest loading is positive.
 */
export function pca(values: Float32Array, rows: number, dims: number, k = 2, iterations = 200): { scores: Float64Array; explained: number[] } {
  if (values.length !== rows * dims) throw new Error(`pca: ${values.length} values for [${rows}, ${dims}]`);
  const x = new Float64Array(values.length);
  for (let d = 0; d < dims; d++) {
    let mean = 0;
    for (let r = 0; r < rows; r++) mean += values[r * dims + d];
    mean /= Math.max(1, rows);
    for (let r = 0; r < rows; r++) x[r * dims + d] = values[r * dims + d] - mean;
  }
  let total = 0;
  for (const v of x) total += v * v;
  const scores = new Float64Array(rows * k);
  const explained: number[] = [];
  const comps: Float64Array[] = [];
  for (let c = 0; c < k; c++) {
    let v = new Float64Array(dims).map((_, d) => 1 + ((d * 7919) % 13) / 13);
    let lambda = 0;
    for (let it = 0; it < iterations; it++) {
      // w = Xᵀ X v, minus the components found already
      const xv = new Float64Array(rows);
      for (let r = 0; r < rows; r++) { let s = 0; for (let d = 0; d < dims; d++) s += x[r * dims + d] * v[d]; xv[r] = s; }
      const w = new Float64Array(dims);
      for (let r = 0; r < rows; r++) { const s = xv[r]; for (let d = 0; d < dims; d++) w[d] += x[r * dims + d] * s; }
      for (const u of comps) { let p = 0; for (let d = 0; d < dims; d++) p += u[d] * w[d]; for (let d = 0; d < dims; d++) w[d] -= p * u[d]; }
      let norm = 0;
      for (const a of w) norm += a * a;
      norm = Math.sqrt(norm);
      if (norm === 0) break;
      lambda = norm;
      v = w.map((a) => a / norm);
    }
    let big = 0;
    for (let d = 0; d < dims; d++) if (Math.abs(v[d]) > Math.abs(big)) big = v[d];
    if (big < 0) v = v.map((a) => -a);
    comps.push(v);
    for (let r = 0; r < rows; r++) { let s = 0; for (let d = 0; d < dims; d++) s += x[r * dims + d] * v[d]; scores[r * k + c] = s; }
    explained.push(total > 0 ? lambda / total : 0);
  }
  return { scores, explained };
}

/**
 * A scatter of the labelled clips' embeddings (run `runDir`, its first ensemble member) on
 * their first two principal components, a trace per label. At most `maxClips` clips (evenly
 * spaced over the list) keep it quick.
 */
export async function embeddingPcaFigure(runDir: string, layout: DataLayout, maxClips = 400): Promise<Figure> {
  const all = layout.curated.clips;
  const step = Math.max(1, Math.ceil(all.length / maxClips));
  const clips = all.filter((_, i) => i % step === 0);
  const files = clips.map((c) => join(layout.curated.dataDir, layout.curated.dataset, c.fname));
  const { member, dims, values } = await embedFiles(runDir, files);
  const { scores, explained } = pca(values, clips.length, dims, 2);
  const byLabel = new Map<string, number[]>();
  clips.forEach((c, i) => {
    const label = c.labels[0] ?? '(none)';
    if (!byLabel.has(label)) byLabel.set(label, []);
    byLabel.get(label)!.push(i);
  });
  const data = [...byLabel].map(([label, rows]) => ({
    type: 'scatter', mode: 'markers', name: label,
    x: rows.map((i) => scores[2 * i]), y: rows.map((i) => scores[2 * i + 1]),
    text: rows.map((i) => clips[i].fname), hovertemplate: '%{text}<extra>%{fullData.name}</extra>',
  }));
  return {
    data,
    layout: {
      title: { text: `Embeddings of ${clips.length} labelled clips (${member}, ${dims} dims): PCA` },
      xaxis: { title: { text: `PC1 (${(100 * explained[0]).toFixed(1)} % of the variance)` } },
      yaxis: { title: { text: `PC2 (${(100 * explained[1]).toFixed(1)} %)` } },
      height: 480,
    },
  };
}
