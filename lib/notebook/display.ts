import { figureHtml, Figure } from '../viz/plotly';

/**
 * The bridge between the pure viz helpers and the tslab kernel. tslab is loaded lazily: in
 * tests and scripts (no kernel) `show` prints a one-line summary instead of failing.
 */

interface TslabDisplay {
  html(s: string): void;
  markdown(s: string): void;
}
interface TslabModule {
  display: TslabDisplay;
  newDisplay(): TslabDisplay;
}

function tslabModule(): TslabModule | null {
  try {
    // Inside a kernel, tslab hooks require('tslab') to its own instance.
    // eslint-disable-next-line @typescript-eslint/no-var-requires
    const mod = require('tslab') as TslabModule;
    return mod;
  } catch {
    return null;
  }
}

function describe(html: string): string {
  const text = html.replace(/<script[\s\S]*?<\/script>/g, '').replace(/<[^>]+>/g, ' ').replace(/\s+/g, ' ').trim();
  return text.length > 200 ? text.slice(0, 200) + '…' : text;
}

/** Displays HTML or a Plotly figure in the notebook (outside a kernel: prints a summary line). */
export function show(content: string | Figure): void {
  const html = typeof content === 'string' ? content : figureHtml(content);
  const mod = tslabModule();
  try {
    if (mod) {
      mod.display.html(html);
      return;
    }
  } catch {
    // Not inside a kernel: fall through.
  }
  console.log(`[display] ${describe(html) || `${html.length} chars of HTML`}`);
}

/** Displays markdown (a tslab display; outside a kernel it is printed). */
export function showMarkdown(md: string): void {
  const mod = tslabModule();
  try {
    if (mod) {
      mod.display.markdown(md);
      return;
    }
  } catch {
    // Not inside a kernel.
  }
  console.log(md);
}

/** A display area that each `update` overwrites (a Jupyter display id under the hood). */
export interface LiveDisplay {
  update(content: string | Figure): void;
}

/**
 * A display that overwrites itself: `tslab.newDisplay()`, whose updates go out as Jupyter
 * `update_display_data` messages with one display id. The live front end redraws in place and
 * nbconvert/nbclient keep the last state in the saved notebook. Outside a kernel updates are
 * dropped except the first (keeps test logs short).
 */
export function liveDisplay(): LiveDisplay {
  const mod = tslabModule();
  let target: TslabDisplay | null = null;
  let printed = false;
  try {
    target = mod ? mod.newDisplay() : null;
  } catch {
    target = null;
  }
  return {
    update(content) {
      const html = typeof content === 'string' ? content : figureHtml(content);
      if (target) {
        try {
          target.html(html);
          return;
        } catch {
          target = null;
        }
      }
      if (!printed) console.log(`[live display] ${describe(html)}`);
      printed = true;
    },
  };
}
