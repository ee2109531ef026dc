/**
 * The one progress reporter of the toolkit: on a terminal a line redrawn in place (a bar with
 * its ETA, see ./format), elsewhere (CI, logs, nohup) plain lines at most every
 * `lineEveryMs`; nothing when quiet. Preprocessing, inference, training and the main job
 * report through it.
 */

/** Where progress goes: a stream (default process.stderr) or a line sink such as a logger. */
export interface ProgressReporterOptions {
  stream?: { write(text: string): unknown; isTTY?: boolean };
  /** Writes each plain line (without its newline) instead of `stream`; never redraws in place. */
  log?: (line: string) => void;
  /** No output at all. */
  quiet?: boolean;
  /** Redraw in place (default: the stream is a terminal). */
  tty?: boolean;
  /** Least time between two redraws on a terminal (default 200 ms). */
  redrawEveryMs?: number;
  /** Least time between two plain lines (default 10 s; Infinity: only final updates). */
  lineEveryMs?: number;
}

export interface ProgressReporter {
  /**
   * Shows the progress line `line()` (called only when it is drawn): throttled, except a
   * `final` update, which always shows and, on a terminal, ends the redrawn line.
   */
  update(line: () => string, final?: boolean): void;
  /** A line that stays (an epoch's summary); on a terminal it replaces the bar. */
  log(line: string): void;
}

/** A progress reporter (see the module comment). */
export function progressReporter(options: ProgressReporterOptions = {}): ProgressReporter {
  const stream = options.stream ?? process.stderr;
  const sink = options.log;
  const tty = sink === undefined && (options.tty ?? stream.isTTY === true);
  const every = tty ? options.redrawEveryMs ?? 200 : options.lineEveryMs ?? 10000;
  let last = -Infinity;
  let drawn = false;
  const write = (line: string): void => {
    if (sink) sink(line);
    else stream.write(`${line}\n`);
  };
  return {
    update(line, final = false) {
      if (options.quiet) return;
      const now = Date.now();
      if (!final && (every === Infinity || now - last < every)) return;
      last = now;
      if (tty) {
        stream.write(`\r${line()}\x1b[K${final ? '\n' : ''}`);
        drawn = !final;
      } else {
        write(line());
      }
    },
    log(line) {
      if (options.quiet) return;
      if (tty && drawn) stream.write('\r\x1b[K');
      drawn = false;
      write(line);
    },
  };
}
