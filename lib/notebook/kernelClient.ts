import { ChildProcess, spawn } from 'node:child_process';
import { createHmac, randomBytes, randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as zmq from 'zeromq';

/**
 * A Jupyter client in Node: starts the tslab kernel the way a kernelspec does
 * (`tslab kernel --config-path <connection file>`) and talks to it over the Jupyter messaging
 * protocol (ZeroMQ, HMAC-SHA256-signed messages on the shell, iopub and control channels),
 * through the `zeromq` binding that tslab itself runs on. This replaces Python's
 * jupyter_client/nbclient for headless execution, so `npm test` needs Node alone.
 *
 * Protocol reference: https://jupyter-client.readthedocs.io/en/latest/messaging.html
 */

/** One output of a code cell, in nbformat 4's shape. */
export type CellOutput =
  | { output_type: 'stream'; name: string; text: string }
  | { output_type: 'display_data'; data: Record<string, unknown>; metadata: Record<string, unknown> }
  | { output_type: 'execute_result'; data: Record<string, unknown>; metadata: Record<string, unknown>; execution_count: number | null }
  | { output_type: 'error'; ename: string; evalue: string; traceback: string[] };

/** What one execute_request produced. */
export interface ExecuteReply {
  /** The kernel's execute_reply status: 'ok', 'error' or 'abort'. */
  status: string;
  executionCount: number | null;
  outputs: CellOutput[];
}

/** Options of {@link startTslabKernel}. */
export interface KernelOptions {
  /** The kernel's working folder (a notebook's own folder, as Jupyter does). */
  cwd: string;
  /** The kernel's environment (default: this process's). */
  env?: NodeJS.ProcessEnv;
  /** The tslab entry script (default: resolved from this project's node_modules). */
  tslabBin?: string;
  /** Seconds to wait for the kernel to answer kernel_info (default 120: tslab compiles on start). */
  startTimeoutS?: number;
}

interface Message {
  header: { msg_id: string; msg_type: string; session: string; username: string; date: string; version: string };
  parent_header: { msg_id?: string };
  metadata: Record<string, unknown>;
  content: Record<string, any>;
}

const DELIM = '<IDS|MSG>';
const PROTOCOL_VERSION = '5.3';

/** `count` distinct free TCP ports on 127.0.0.1 (what jupyter_client does for a local kernel). */
async function freePorts(count: number): Promise<number[]> {
  const servers = await Promise.all(
    Array.from({ length: count }, () =>
      new Promise<import('node:net').Server>((resolve, reject) => {
        const s = createServer();
        s.once('error', reject);
        s.listen(0, '127.0.0.1', () => resolve(s));
      }),
    ),
  );
  const ports = servers.map((s) => (s.address() as import('node:net').AddressInfo).port);
  await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
  return ports;
}

/** HMAC-SHA256 of the four JSON frames, hex (the protocol's signature). */
export function signFrames(key: string, frames: readonly (string | Buffer)[]): string {
  const h = createHmac('sha256', key);
  for (const f of frames) h.update(f);
  return h.digest('hex');
}

/** A running tslab kernel and the client connected to it. */
class KernelClient {
  private readonly session = randomUUID();
  private readonly waiters = new Map<string, (channel: 'shell' | 'iopub', msg: Message) => void>();
  private sendQueue: Promise<unknown> = Promise.resolve();
  private exited: { code: number | null; signal: string | null } | null = null;
  private stderrTail = '';
  private closed = false;
  /** Outputs shown with a display_id, so that update_display_data can replace them in place. */
  private readonly displays = new Map<string, CellOutput[]>();

  private constructor(
    private readonly child: ChildProcess,
    private readonly key: string,
    private readonly shell: zmq.Dealer,
    private readonly control: zmq.Dealer,
    private readonly iopub: zmq.Subscriber,
    private readonly connectionDir: string,
  ) {
    child.on('exit', (code, signal) => {
      this.exited = { code, signal };
      for (const w of [...this.waiters.values()]) w('shell', this.deathMessage());
    });
    child.stderr?.on('data', (d: Buffer) => {
      this.stderrTail = (this.stderrTail + d.toString('utf8')).slice(-4000);
    });
    child.stdout?.on('data', (d: Buffer) => {
      this.stderrTail = (this.stderrTail + d.toString('utf8')).slice(-4000);
    });
    void this.receiveLoop('shell', shell);
    void this.receiveLoop('shell', control);
    void this.receiveLoop('iopub', iopub);
  }

  /** Starts `tslab kernel --config-path <file>` in `cwd` and waits until it answers. */
  static async start(options: KernelOptions): Promise<KernelClient> {
    const tslabBin = options.tslabBin ?? require.resolve('tslab/bin/tslab');
    const [shellPort, iopubPort, controlPort, stdinPort, hbPort] = await freePorts(5);
    const key = randomBytes(32).toString('hex');
    const connectionDir = mkdtempSync(join(tmpdir(), 'fat2019-kernel-'));
    const connectionFile = join(connectionDir, 'kernel.json');
    const ip = '127.0.0.1';
    writeFileSync(
      connectionFile,
      JSON.stringify({
        transport: 'tcp',
        ip,
        shell_port: shellPort,
        iopub_port: iopubPort,
        control_port: controlPort,
        stdin_port: stdinPort,
        hb_port: hbPort,
        key,
        signature_scheme: 'hmac-sha256',
        kernel_name: 'tslab',
      }),
      { mode: 0o600 },
    );
    const child = spawn(process.execPath, [tslabBin, 'kernel', '--config-path', connectionFile], {
      cwd: options.cwd,
      env: options.env ?? process.env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const shell = new zmq.Dealer({ routingId: randomUUID(), linger: 0 });
    const control = new zmq.Dealer({ routingId: randomUUID(), linger: 0 });
    const iopub = new zmq.Subscriber({ linger: 0 });
    shell.connect(`tcp://${ip}:${shellPort}`);
    control.connect(`tcp://${ip}:${controlPort}`);
    iopub.connect(`tcp://${ip}:${iopubPort}`);
    iopub.subscribe();
    const client = new KernelClient(child, key, shell, control, iopub, connectionDir);
    try {
      await client.waitReady((options.startTimeoutS ?? 120) * 1000);
    } catch (err) {
      await client.shutdown();
      throw err;
    }
    return client;
  }

  /**
   * Asks kernel_info until both the shell reply and an iopub message of that request arrive:
   * a subscriber misses what was published before its subscription reached the kernel, so
   * the first execute_request must wait for this.
   */
  private async waitReady(timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      if (this.exited) throw new Error(`tslab kernel exited while starting (${this.describeExit()})${this.kernelLog()}`);
      // Another process took one of the free ports before the kernel bound it (tslab logs the
      // failed bind and keeps running): give up at once, the caller retries with new ports.
      if (/EADDRINUSE|Address already in use/i.test(this.stderrTail)) throw new PortTakenError(`tslab kernel could not bind its ports${this.kernelLog()}`);
      const msg = this.message('kernel_info_request', {});
      let gotReply = false;
      let gotIopub = false;
      const ready = new Promise<boolean>((resolve) => {
        const timer = setTimeout(() => resolve(false), 1000);
        this.waiters.set(msg.header.msg_id, (channel, m) => {
          if (m.header.msg_type === 'fat2019_kernel_died') resolve(false);
          if (channel === 'shell') gotReply = true;
          else gotIopub = true;
          if (gotReply && gotIopub) {
            clearTimeout(timer);
            resolve(true);
          }
        });
      });
      await this.send(this.shell, msg);
      const ok = await ready;
      this.waiters.delete(msg.header.msg_id);
      if (ok) return;
    }
    throw new Error(`tslab kernel did not answer kernel_info within ${Math.round(timeoutMs / 1000)} s${this.kernelLog()}`);
  }

  /**
   * Runs `code` and collects its outputs (streams, display data, results), applying
   * update_display_data to earlier outputs as a notebook front end does. Rejects when the
   * kernel dies or `timeoutMs` passes; a failing cell resolves with status 'error'.
   */
  async execute(code: string, timeoutMs = 600_000): Promise<ExecuteReply> {
    if (this.exited) throw new Error(`tslab kernel is not running (${this.describeExit()})${this.kernelLog()}`);
    const msg = this.message('execute_request', { code, silent: false, store_history: true, user_expressions: {}, allow_stdin: false, stop_on_error: true });
    const outputs: CellOutput[] = [];
    let pendingClear = false;
    const add = (o: CellOutput) => {
      if (pendingClear) {
        outputs.length = 0;
        pendingClear = false;
      }
      const last = outputs[outputs.length - 1];
      if (o.output_type === 'stream' && last?.output_type === 'stream' && last.name === o.name) last.text += o.text;
      else outputs.push(o);
    };
    const done = new Promise<ExecuteReply>((resolve, reject) => {
      let reply: Message | null = null;
      let idle = false;
      const timer = setTimeout(() => reject(new Error(`cell did not finish within ${Math.round(timeoutMs / 1000)} s`)), timeoutMs);
      const finish = () => {
        if (!reply || !idle) return;
        clearTimeout(timer);
        resolve({ status: String(reply.content.status), executionCount: reply.content.execution_count ?? null, outputs });
      };
      this.waiters.set(msg.header.msg_id, (_channel, m) => {
        const c = m.content;
        switch (m.header.msg_type) {
          case 'fat2019_kernel_died':
            clearTimeout(timer);
            reject(new Error(`tslab kernel died during the cell (${this.describeExit()})${this.kernelLog()}`));
            return;
          case 'execute_reply':
            reply = m;
            break;
          case 'status':
            if (c.execution_state === 'idle') idle = true;
            break;
          case 'stream':
            add({ output_type: 'stream', name: String(c.name), text: String(c.text) });
            break;
          case 'display_data':
          case 'execute_result': {
            const o: CellOutput =
              m.header.msg_type === 'display_data'
                ? { output_type: 'display_data', data: c.data ?? {}, metadata: c.metadata ?? {} }
                : { output_type: 'execute_result', data: c.data ?? {}, metadata: c.metadata ?? {}, execution_count: c.execution_count ?? null };
            add(o);
            const id = c.transient?.display_id;
            if (typeof id === 'string') this.displays.set(id, [...(this.displays.get(id) ?? []), o]);
            break;
          }
          case 'update_display_data': {
            const id = c.transient?.display_id;
            for (const o of (typeof id === 'string' && this.displays.get(id)) || []) {
              if (o.output_type === 'display_data' || o.output_type === 'execute_result') {
                o.data = c.data ?? {};
                o.metadata = c.metadata ?? {};
              }
            }
            break;
          }
          case 'clear_output':
            if (c.wait) pendingClear = true;
            else outputs.length = 0;
            break;
          case 'error':
            add({ output_type: 'error', ename: String(c.ename), evalue: String(c.evalue), traceback: (c.traceback as string[]) ?? [] });
            break;
          default:
            break;
        }
        finish();
      });
    });
    try {
      await this.send(this.shell, msg);
      return await done;
    } finally {
      this.waiters.delete(msg.header.msg_id);
    }
  }

  /** Asks the kernel to shut down (control channel), then ends it if it lingers; closes sockets. */
  async shutdown(graceMs = 3000): Promise<void> {
    if (this.closed) return;
    if (!this.exited) {
      try {
        await Promise.race([this.send(this.control, this.message('shutdown_request', { restart: false })), sleep(500)]);
      } catch {
        // The kernel is ended below either way.
      }
      const deadline = Date.now() + graceMs;
      while (!this.exited && Date.now() < deadline) await sleep(50);
      if (!this.exited) {
        this.child.kill('SIGKILL');
        while (!this.exited) await sleep(20);
      }
    }
    this.closed = true;
    for (const s of [this.shell, this.control, this.iopub]) s.close();
    rmSync(this.connectionDir, { recursive: true, force: true });
  }

  private message(msgType: string, content: Record<string, unknown>): Message {
    return {
      header: { msg_id: randomUUID(), msg_type: msgType, session: this.session, username: 'fat2019', date: new Date().toISOString(), version: PROTOCOL_VERSION },
      parent_header: {},
      metadata: {},
      content,
    };
  }

  /** Signs and sends; zeromq allows one send in flight per socket, so sends are queued. */
  private send(sock: zmq.Dealer, msg: Message): Promise<void> {
    const frames = [JSON.stringify(msg.header), JSON.stringify(msg.parent_header), JSON.stringify(msg.metadata), JSON.stringify(msg.content)];
    const next = this.sendQueue.then(() => sock.send([DELIM, signFrames(this.key, frames), ...frames]));
    this.sendQueue = next.catch(() => undefined);
    return next;
  }

  private async receiveLoop(channel: 'shell' | 'iopub', sock: zmq.Dealer | zmq.Subscriber): Promise<void> {
    try {
      for await (const raw of sock) {
        const msg = this.parse(raw as Buffer[]);
        const id = msg?.parent_header.msg_id;
        if (msg && id) this.waiters.get(id)?.(channel, msg);
      }
    } catch {
      // The socket was closed.
    }
  }

  /** Decodes `[ids…, <IDS|MSG>, hmac, header, parent, metadata, content, …]`; drops badly signed ones. */
  private parse(raw: Buffer[]): Message | null {
    const d = raw.findIndex((b) => b.toString() === DELIM);
    if (d < 0 || raw.length < d + 6) return null;
    const frames = raw.slice(d + 2, d + 6);
    if (raw[d + 1].toString() !== signFrames(this.key, frames)) return null;
    const [header, parent, metadata, content] = frames.map((f) => JSON.parse(f.toString('utf8')));
    return { header, parent_header: parent, metadata, content };
  }

  /** A pseudo-message that wakes every waiter when the kernel process exits. */
  private deathMessage(): Message {
    return this.message('fat2019_kernel_died', {});
  }

  private describeExit(): string {
    if (!this.exited) return 'running';
    return this.exited.signal ? `signal ${this.exited.signal}` : `exit code ${this.exited.code}`;
  }

  private kernelLog(): string {
    const t = this.stderrTail.trim();
    return t ? `\nkernel output:\n${t}` : '';
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** A kernel that lost a race for one of its ports. */
class PortTakenError extends Error {}

/** Starts a tslab kernel (see {@link KernelClient}); a lost race for a port is retried with new ports. */
export async function startTslabKernel(options: KernelOptions): Promise<KernelClient> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await KernelClient.start(options);
    } catch (err) {
      if (!(err instanceof PortTakenError) || attempt >= 3) throw err;
    }
  }
}
