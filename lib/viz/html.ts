/**
 * HTML helpers shared by the viz module: every string that goes into markup is escaped, and
 * every JSON payload that goes into a `<script>` is made safe to inline.
 */

const HTML_ESCAPES: Record<string, string> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&quot;',
  "'": '&#39;',
};

/** Escapes text for HTML element content and quoted attribute values. */
export function escapeHtml(text: string): string {
  return String(text).replace(/[&<>"']/g, (c) => HTML_ESCAPES[c]);
}

/**
 * JSON for inlining inside a `<script>` element: `<`, `>`, `&` and the JS line separators
 * U+2028/U+2029 are written as `\uXXXX` escapes, so a label such as `</script>` cannot end the
 * script early and the result still parses as the same JSON (and JS).
 * Non-finite numbers (NaN, ±Infinity) become `null`, which Plotly draws as a gap.
 */
export function jsonForScript(value: unknown): string {
  return JSON.stringify(value, (_key, v) => (typeof v === 'number' && !Number.isFinite(v) ? null : v))
    .replace(/[<>&\u2028\u2029]/g, (c) => '\\u' + c.charCodeAt(0).toString(16).padStart(4, '0'));
}

let idCounter = 0;
// A per-process prefix keeps element ids unique when several notebooks share one page
// (JupyterLab puts every open notebook in the same document).
const idPrefix = `fat${process.pid.toString(36)}${Date.now().toString(36).slice(-4)}`;

/** A fresh DOM id, unique within this process and very likely across kernels. */
export function uniqueId(kind: string): string {
  return `${idPrefix}-${kind}-${++idCounter}`;
}

/** Checks that `value` is a finite number > 0 (or ≥ 0 with `allowZero`), torchaudio-style message. */
export function checkPositive(name: string, value: number, allowZero = false): void {
  const ok = Number.isFinite(value) && (allowZero ? value >= 0 : value > 0);
  if (!ok) throw new Error(`${name} must be ${allowZero ? '>= 0' : '> 0'}, got ${value}`);
}
