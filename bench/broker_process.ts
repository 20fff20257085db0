/**
 * A CLI broker run as its own process for the benchmarks
 * (`bench/counting_broker.ts broker …`, i.e. `cli/main.ts broker` with a
 * store counter), and what can be read about it from outside: readiness,
 * `/proc/<pid>/status` memory, `/proc/<pid>/io` and the store counters.
 *
 * @module
 */
import { REPORT_PREFIX, type StoreCounters } from "./counting_broker.ts";

/** Options of {@linkcode BrokerProcess.start}. */
export interface BrokerProcessOptions {
  /** The storage flags: `["--data", dir]` or `["--storage", "s3://…", …]`. */
  storage: string[];
  /** `--listen` (default `127.0.0.1:0`). */
  listen?: string;
  /** `--identity`; keep it across restarts so that a new process takes over at once. */
  identity: string;
  /** Extra environment (the S3 credentials are inherited anyway). */
  env?: Record<string, string>;
}

/** Memory of a process from `/proc/<pid>/status`, in bytes. */
export interface ProcessMemory {
  /** Resident set size now (`VmRSS`). */
  rss: number;
  /** Peak resident set size (`VmHWM`). */
  peak: number;
}

/** I/O of a process from `/proc/<pid>/io`, in bytes. */
export interface ProcessIo {
  /** Bytes the process caused to be written to storage (page-granular, files only). */
  writeBytes: number;
  /** Bytes passed to write-like system calls (files, sockets, pipes). */
  wchar: number;
}

const CLI = new URL("./counting_broker.ts", import.meta.url).pathname;
const CONFIG = new URL("../deno.json", import.meta.url).pathname;

/** Reads the stream line by line into `lines`, calling `onLine` for each. */
async function readLines(
  stream: ReadableStream<Uint8Array>,
  onLine: (line: string) => void,
): Promise<void> {
  let buffered = "";
  try {
    for await (const chunk of stream.pipeThrough(new TextDecoderStream())) {
      buffered += chunk;
      let newline;
      while ((newline = buffered.indexOf("\n")) >= 0) {
        onLine(buffered.slice(0, newline));
        buffered = buffered.slice(newline + 1);
      }
    }
  } catch {
    // the process died; keep what was read
  }
  if (buffered !== "") onLine(buffered);
}

/** A broker child process. */
export class BrokerProcess {
  /** The process. */
  readonly child: Deno.ChildProcess;
  /** When it was spawned (`performance.now()`). */
  readonly spawnedAt: number;
  /** Resolves with the exit status. */
  readonly status: Promise<Deno.CommandStatus>;
  /** The last lines of its stderr (for error messages). */
  readonly tail: string[] = [];
  #exited = false;
  #reports: StoreCounters[] = [];
  #reportWaiters: (() => void)[] = [];
  #output: Promise<void>;

  private constructor(options: BrokerProcessOptions) {
    this.spawnedAt = performance.now();
    this.child = new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "-A",
        "--quiet",
        "--config",
        CONFIG,
        CLI,
        "broker",
        "--listen",
        options.listen ?? "127.0.0.1:0",
        "--identity",
        options.identity,
        "--quiet",
        ...options.storage,
      ],
      env: { NO_COLOR: "1", ...options.env },
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const keep = (line: string) => {
      this.tail.push(line);
      if (this.tail.length > 40) this.tail.shift();
    };
    this.#output = Promise.all([
      readLines(this.child.stdout, (line) => {
        if (line.startsWith(REPORT_PREFIX)) {
          this.#reports.push(JSON.parse(line.slice(REPORT_PREFIX.length)) as StoreCounters);
          for (const wake of this.#reportWaiters.splice(0)) wake();
        } else keep(line);
      }),
      readLines(this.child.stderr, keep),
    ]).then(() => {});
    this.status = this.child.status.then(async (status) => {
      this.#exited = true;
      await this.#output;
      for (const wake of this.#reportWaiters.splice(0)) wake();
      return status;
    });
  }

  /** Spawns a broker; it is not necessarily answering yet (see {@linkcode waitUntilAnswering}). */
  static start(options: BrokerProcessOptions): BrokerProcess {
    return new BrokerProcess(options);
  }

  /** The process id. */
  get pid(): number {
    return this.child.pid;
  }

  /** Whether the process has exited. */
  get exited(): boolean {
    return this.#exited;
  }

  /** The URL from the broker's `leader on <url>` line (waits for it). */
  async url(timeoutMs = 600_000): Promise<string> {
    const deadline = performance.now() + timeoutMs;
    for (;;) {
      for (const line of this.tail) {
        const match = line.match(/\[osqueue\] broker \S+ leader on (http:\/\/\S+)/);
        if (match) return match[1];
      }
      if (this.#exited) throw new Error(`the broker exited before leading:\n${this.describe()}`);
      if (performance.now() > deadline) {
        throw new Error(`the broker did not lead within ${timeoutMs} ms:\n${this.describe()}`);
      }
      await new Promise((resolve) => setTimeout(resolve, 2));
    }
  }

  /**
   * Polls `GET <url>/v1/stats` every `intervalMs` (default 10) until it
   * answers 200; returns the time from spawn to that answer, ms, with the
   * answer. With a URL from {@linkcode url} the first poll usually succeeds.
   */
  async waitUntilAnswering(
    url: string,
    options: { timeoutMs?: number; intervalMs?: number } = {},
  ): Promise<{ ms: number; stats: Record<string, unknown> }> {
    const deadline = performance.now() + (options.timeoutMs ?? 600_000);
    for (;;) {
      try {
        const response = await fetch(`${url}/v1/stats`);
        const body = await response.json().catch(() => undefined);
        if (response.ok && typeof body === "object" && body !== null) {
          return { ms: performance.now() - this.spawnedAt, stats: body };
        }
      } catch {
        // not listening yet
      }
      if (this.#exited) throw new Error(`the broker exited before answering:\n${this.describe()}`);
      if (performance.now() > deadline) {
        throw new Error(`the broker did not answer in time:\n${this.describe()}`);
      }
      await new Promise((resolve) => setTimeout(resolve, options.intervalMs ?? 10));
    }
  }

  /** Asks the process for its store counters (`SIGUSR1`) and waits for the report. */
  async storeCounters(timeoutMs = 30_000): Promise<StoreCounters> {
    const before = this.#reports.length;
    this.child.kill("SIGUSR1");
    const deadline = performance.now() + timeoutMs;
    while (this.#reports.length === before) {
      if (this.#exited) throw new Error("the broker exited before reporting its store counters");
      if (performance.now() > deadline) throw new Error("no store counter report in time");
      await new Promise<void>((resolve) => {
        this.#reportWaiters.push(resolve);
        setTimeout(resolve, 100);
      });
    }
    return this.#reports[this.#reports.length - 1];
  }

  /** `VmRSS` and `VmHWM` of the process. */
  memory(): ProcessMemory {
    const status = Deno.readTextFileSync(`/proc/${this.pid}/status`);
    const kb = (field: string) => {
      const match = status.match(new RegExp(`^${field}:\\s+(\\d+) kB`, "m"));
      if (!match) throw new Error(`no ${field} in /proc/${this.pid}/status`);
      return Number(match[1]) * 1024;
    };
    return { rss: kb("VmRSS"), peak: kb("VmHWM") };
  }

  /** `write_bytes` and `wchar` of the process. */
  io(): ProcessIo {
    const text = Deno.readTextFileSync(`/proc/${this.pid}/io`);
    const field = (name: string) => Number(text.match(new RegExp(`^${name}: (\\d+)`, "m"))![1]);
    return { writeBytes: field("write_bytes"), wchar: field("wchar") };
  }

  /** Sends `signal` and waits for the exit; returns the time it took, ms. */
  async stop(signal: "SIGTERM" | "SIGKILL" = "SIGTERM", timeoutMs = 120_000): Promise<number> {
    const started = performance.now();
    if (!this.#exited) {
      try {
        this.child.kill(signal);
      } catch {
        // exited meanwhile
      }
    }
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<"timeout">((resolve) => {
      timer = setTimeout(() => resolve("timeout"), timeoutMs);
    });
    const first = await Promise.race([this.status, timeout]);
    clearTimeout(timer);
    if (first === "timeout") {
      this.child.kill("SIGKILL");
      await this.status;
      throw new Error(`the broker ignored ${signal} for ${timeoutMs} ms`);
    }
    return performance.now() - started;
  }

  /** The last output lines, for error messages. */
  describe(): string {
    return this.tail.map((line) => `  | ${line}`).join("\n");
  }
}
