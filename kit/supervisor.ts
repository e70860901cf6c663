/**
 * Runs mesh processes: spawns `bun <entry>` with its env, prefixes its log lines with
 * its name, waits until `/readyz` answers 200, restarts it with backoff if it dies
 * unexpectedly, and stops everything with SIGTERM (then SIGKILL after a grace period).
 * Used by the `mesh` command and by tests that need real processes (crash tests).
 */
import type { Subprocess } from "bun";
import { bundleFor } from "./bundle.ts";

export interface ProcessSpec {
  /** Name shown in log prefixes, e.g. "identity" or "edge". */
  readonly name: string;
  /** Path of the TypeScript entry file. */
  readonly entry: string;
  /** Port it listens on; /readyz is polled there. */
  readonly port: number;
  readonly env: Record<string, string | undefined>;
}

export interface SupervisorOptions {
  /** Where log lines go; default stdout with a `[name]` prefix. null discards them. */
  readonly output?: ((name: string, line: string) => void) | null;
  /** Restart processes that exit unexpectedly. Default true. */
  readonly restart?: boolean;
  /** How long to wait for /readyz, ms. Default 60 s (first start migrates databases). */
  readonly readyTimeoutMs?: number;
  /** SIGTERM-to-SIGKILL grace, ms. Default 15 s. */
  readonly stopGraceMs?: number;
}

interface Managed {
  spec: ProcessSpec;
  proc?: Subprocess;
  stopping: boolean;
  restarts: number;
  startedAt: number;
  /** The process's last output lines, kept even when output is discarded, for errors. */
  tail: string[];
}

/** How many output lines a failed start quotes. */
const tailLines = 30;

/**
 * Extra Bun flags for every process, from `OASIS_BUN_FLAGS` (space-separated), e.g.
 * `--cpu-prof-md --cpu-prof-dir=/tmp/prof` to profile a whole mesh under a benchmark.
 * Read at each spawn, so a benchmark may set it after its setup and restart the processes
 * it profiles (bench/social.ts OASIS_BENCH_PROFILE).
 */
const runtimeFlags = (): string[] => (process.env.OASIS_BUN_FLAGS ?? "").split(" ").filter(Boolean);

const colors = [36, 33, 35, 32, 34, 91, 92, 93, 94, 95, 96, 90];

function pump(stream: ReadableStream<Uint8Array> | undefined, onLine: (line: string) => void): void {
  if (!stream) return;
  void (async () => {
    const decoder = new TextDecoder();
    let buf = "";
    for await (const chunk of stream) {
      buf += decoder.decode(chunk, { stream: true });
      let i: number;
      while ((i = buf.indexOf("\n")) >= 0) {
        onLine(buf.slice(0, i));
        buf = buf.slice(i + 1);
      }
    }
    if (buf) onLine(buf);
  })().catch(() => {});
}

/**
 * Polls http://127.0.0.1:<port>/readyz until 200 or timeout. The error of a failed wait
 * says what the last probe saw (connection refused, a timeout, or a status and body) and
 * ends with `context()` (the supervisor passes the process's last output lines).
 */
export async function waitReady(
  port: number,
  timeoutMs: number,
  isAlive: () => boolean = () => true,
  context: () => string = () => "",
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = "no probe answered";
  while (Date.now() < deadline) {
    if (!isAlive()) throw new Error(`process on port ${port} exited before it was ready${context()}`);
    try {
      const res = await fetch(`http://127.0.0.1:${port}/readyz`, { signal: AbortSignal.timeout(1_000) });
      if (res.status === 200) return;
      last = `last probe: ${res.status} ${(await res.text()).trim().slice(0, 200)}`;
    } catch (err) {
      last = `last probe: ${(err as Error).name}: ${(err as Error).message}`;
    }
    await Bun.sleep(100);
  }
  throw new Error(`port ${port} not ready after ${timeoutMs} ms (${last})${context()}`);
}

export class Supervisor {
  private readonly procs = new Map<string, Managed>();
  private readonly opts: Required<Omit<SupervisorOptions, "output">> & { output: SupervisorOptions["output"] };
  private colorIndex = 0;
  private readonly colorOf = new Map<string, number>();

  constructor(opts: SupervisorOptions = {}) {
    this.opts = {
      output: opts.output === undefined ? undefined : opts.output,
      restart: opts.restart ?? true,
      readyTimeoutMs: opts.readyTimeoutMs ?? 60_000,
      stopGraceMs: opts.stopGraceMs ?? 15_000,
    };
  }

  private write(name: string, line: string): void {
    if (this.opts.output === null) return;
    if (this.opts.output) return this.opts.output(name, line);
    if (!this.colorOf.has(name)) this.colorOf.set(name, colors[this.colorIndex++ % colors.length]!);
    const tty = process.stdout.isTTY;
    const prefix = tty ? `\x1b[${this.colorOf.get(name)}m${name.padEnd(12)}|\x1b[0m` : `${name.padEnd(12)}|`;
    process.stdout.write(`${prefix} ${line}\n`);
  }

  private spawn(m: Managed): void {
    // A prebuilt bundle of the entry when this run built them (kit/bundle.ts), else the source.
    const entry = bundleFor(m.spec.entry) ?? m.spec.entry;
    const proc = Bun.spawn([process.execPath, ...runtimeFlags(), entry], {
      env: { ...m.spec.env } as Record<string, string>,
      stdout: "pipe",
      stderr: "pipe",
    });
    m.proc = proc;
    m.startedAt = Date.now();
    const onLine = (l: string) => {
      m.tail.push(l);
      if (m.tail.length > tailLines) m.tail.shift();
      this.write(m.spec.name, l);
    };
    pump(proc.stdout as ReadableStream<Uint8Array>, onLine);
    pump(proc.stderr as ReadableStream<Uint8Array>, onLine);
    void proc.exited.then((code) => {
      if (m.proc !== proc || m.stopping || !this.opts.restart) return;
      // Backoff 0.5 s doubling to 10 s; a process that ran a minute starts fresh.
      if (Date.now() - m.startedAt > 60_000) m.restarts = 0;
      const delayMs = Math.min(10_000, 500 * 2 ** m.restarts++);
      this.write(m.spec.name, `exited (code ${code ?? proc.signalCode}); restarting in ${delayMs} ms`);
      setTimeout(() => {
        if (!m.stopping) this.spawn(m);
      }, delayMs);
    });
  }

  /** Starts a process and waits until it is ready. */
  async start(spec: ProcessSpec): Promise<void> {
    const m: Managed = { spec, stopping: false, restarts: 0, startedAt: 0, tail: [] };
    this.procs.set(spec.name, m);
    this.spawn(m);
    await waitReady(spec.port, this.opts.readyTimeoutMs, () => this.opts.restart || m.proc?.exitCode === null, () => this.context(m));
  }

  /** Starts several processes in parallel. */
  async startAll(specs: readonly ProcessSpec[]): Promise<void> {
    await Promise.all(specs.map((s) => this.start(s)));
  }

  pid(name: string): number | undefined {
    return this.procs.get(name)?.proc?.pid;
  }

  /** SIGKILL without cleanup (crash tests). With restart on, it comes back by itself. */
  kill9(name: string): void {
    this.procs.get(name)?.proc?.kill("SIGKILL");
  }

  /**
   * Starts a stopped or killed process again (without waiting for auto-restart). `env`,
   * if given, is laid over the process's env from then on (this start and later ones),
   * e.g. a crash test's shorter ack wait for the last start; a process still running
   * keeps the env it started with.
   */
  async restart(name: string, env?: Readonly<Record<string, string>>): Promise<void> {
    const m = this.procs.get(name);
    if (!m) throw new Error(`unknown process ${name}`);
    if (env) m.spec = { ...m.spec, env: { ...m.spec.env, ...env } };
    m.stopping = false;
    if (m.proc && m.proc.exitCode === null && m.proc.signalCode === null)
      return waitReady(m.spec.port, this.opts.readyTimeoutMs, undefined, () => this.context(m));
    this.spawn(m);
    await waitReady(m.spec.port, this.opts.readyTimeoutMs, undefined, () => this.context(m));
  }

  /** The name and last output lines of a process, for a failed start's error. */
  private context(m: Managed): string {
    const lines = m.tail.length ? m.tail.map((l) => `  | ${l}`).join("\n") : "  | (no output)";
    return `\n${m.spec.name} (pid ${m.proc?.pid ?? "?"}), its last output:\n${lines}`;
  }

  /** SIGTERM, then SIGKILL after the grace period. */
  async stop(name: string): Promise<void> {
    const m = this.procs.get(name);
    if (!m?.proc) return;
    m.stopping = true;
    const proc = m.proc;
    if (proc.exitCode !== null || proc.signalCode !== null) return;
    proc.kill("SIGTERM");
    const timer = setTimeout(() => proc.kill("SIGKILL"), this.opts.stopGraceMs);
    await proc.exited;
    clearTimeout(timer);
  }

  /** Stops everything, edge-like processes first is the caller's choice of order. */
  async stopAll(order?: readonly string[]): Promise<void> {
    const names = order ?? [...this.procs.keys()].reverse();
    for (const n of names) await this.stop(n);
  }
}
