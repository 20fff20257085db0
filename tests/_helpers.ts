/**
 * Helpers for the end-to-end tests: temp directories, Deno subprocesses whose
 * output is read line by line (and kept, to print when a test fails), waiting
 * for a line or a condition with a deadline, and a CLI broker on a free port.
 *
 * @module
 */
import { decodeArchive } from "../core/archive.ts";
import { findJob, type QueueState, queueStats } from "../core/state.ts";
import { readQueueState } from "../broker/read_state.ts";
import type { Job, QueueStats } from "../protocol/operations.ts";
import { DirectoryStore } from "../storage/directory_store.ts";

/** The repository root (the directory holding `deno.json`). */
export const ROOT: string = new URL("..", import.meta.url).pathname;

/** Absolute path of a file in the repository, from a root-relative path. */
export function repoPath(relative: string): string {
  return new URL(relative, new URL("..", import.meta.url)).pathname;
}

/** A temp directory removed (recursively) on `await using` disposal. */
export interface TempDir extends AsyncDisposable {
  /** The directory's path. */
  readonly path: string;
}

/** Creates a unique temp directory, removed when disposed. */
export async function tempDir(prefix = "osqueue-e2e-"): Promise<TempDir> {
  const path = await Deno.makeTempDir({ prefix });
  return {
    path,
    async [Symbol.asyncDispose]() {
      await Deno.remove(path, { recursive: true }).catch(() => {});
    },
  };
}

/** Resolves after `ms` milliseconds. */
export function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Options of {@linkcode waitFor}. */
export interface WaitForOptions {
  /** Give up after this many ms (default 10 000). */
  timeoutMs?: number;
  /** Time between checks, ms (default 20). */
  intervalMs?: number;
  /** Says what was awaited, for the timeout error (a function is called at timeout). */
  message?: string | (() => string);
}

/** Polls `check` until it returns a truthy value and returns it; throws after the deadline. */
export async function waitFor<T>(
  check: () => T | Promise<T>,
  options: WaitForOptions = {},
): Promise<NonNullable<T>> {
  const timeoutMs = options.timeoutMs ?? 10_000;
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value) return value as NonNullable<T>;
    if (Date.now() > deadline) {
      const message = typeof options.message === "function"
        ? options.message()
        : options.message ?? "condition";
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${message}`);
    }
    await delay(options.intervalMs ?? 20);
  }
}

/** Lines read from one output stream of a child, kept in order, with waiters. */
export class LineLog {
  /** Every complete line so far (and the unterminated tail once the stream ends). */
  readonly lines: string[] = [];
  #waiters: { pattern: RegExp; from: number; resolve: (m: RegExpMatchArray) => void }[] = [];
  #ended = false;
  #endWaiters: (() => void)[] = [];
  /** Resolves when the stream has been read to its end. */
  readonly done: Promise<void>;

  /** Starts reading `stream` (optionally echoing each line to `echo`). */
  constructor(stream: ReadableStream<Uint8Array>, echo?: (line: string) => void) {
    this.done = (async () => {
      let buffered = "";
      try {
        for await (const chunk of stream.pipeThrough(new TextDecoderStream())) {
          buffered += chunk;
          let newline;
          while ((newline = buffered.indexOf("\n")) >= 0) {
            this.#push(buffered.slice(0, newline), echo);
            buffered = buffered.slice(newline + 1);
          }
        }
      } catch {
        // the stream broke (the child died): keep what we have
      }
      if (buffered !== "") this.#push(buffered, echo);
      this.#ended = true;
      for (const wake of this.#endWaiters.splice(0)) wake();
    })();
  }

  #push(line: string, echo?: (line: string) => void): void {
    this.lines.push(line);
    echo?.(line);
    const index = this.lines.length - 1;
    this.#waiters = this.#waiters.filter((waiter) => {
      if (index < waiter.from) return true;
      const match = line.match(waiter.pattern);
      if (match === null) return true;
      waiter.resolve(match);
      return false;
    });
  }

  /** The lines matching `pattern`. */
  matching(pattern: RegExp): RegExpMatchArray[] {
    return this.lines.map((line) => line.match(pattern)).filter((m) => m !== null);
  }

  /**
   * Waits for a line (at index ≥ `from`, default 0) that matches `pattern`;
   * rejects when the stream ends without one or after `timeoutMs`.
   */
  waitFor(pattern: RegExp, options: { timeoutMs?: number; from?: number } = {}): Promise<
    RegExpMatchArray
  > {
    const from = options.from ?? 0;
    for (let i = from; i < this.lines.length; i++) {
      const match = this.lines[i].match(pattern);
      if (match !== null) return Promise.resolve(match);
    }
    if (this.#ended) {
      return Promise.reject(new Error(`stream ended without a line matching ${pattern}`));
    }
    const timeoutMs = options.timeoutMs ?? 15_000;
    return new Promise((resolve, reject) => {
      const waiter = {
        pattern,
        from,
        resolve: (match: RegExpMatchArray) => {
          clearTimeout(timer);
          resolve(match);
        },
      };
      const onEnd = () => {
        if (!this.#waiters.includes(waiter)) return;
        this.#waiters = this.#waiters.filter((w) => w !== waiter);
        clearTimeout(timer);
        reject(new Error(`stream ended without a line matching ${pattern}`));
      };
      const timer = setTimeout(() => {
        this.#waiters = this.#waiters.filter((w) => w !== waiter);
        this.#endWaiters = this.#endWaiters.filter((w) => w !== onEnd);
        reject(new Error(`timed out after ${timeoutMs} ms waiting for a line matching ${pattern}`));
      }, timeoutMs);
      this.#waiters.push(waiter);
      this.#endWaiters.push(onEnd);
    });
  }
}

/** Options of {@linkcode spawnDeno}. */
export interface SpawnDenoOptions {
  /** A label for the child's echoed output and errors. */
  name?: string;
  /** Extra environment variables. */
  env?: Record<string, string>;
  /** Working directory (default the repository root). */
  cwd?: string;
  /** Echo the child's output to this test's stderr as it arrives (default: env `OSQUEUE_E2E_ECHO`). */
  echo?: boolean;
}

/** A running `deno run -A <script> …` child with its output read line by line. */
export class DenoChild implements AsyncDisposable {
  /** The label given at spawn. */
  readonly name: string;
  /** The process. */
  readonly process: Deno.ChildProcess;
  /** Its standard output. */
  readonly stdout: LineLog;
  /** Its standard error. */
  readonly stderr: LineLog;
  /** Resolves with its exit status. */
  readonly status: Promise<Deno.CommandStatus>;
  #exited = false;

  /** Spawns the child (see {@linkcode spawnDeno}). */
  constructor(args: string[], options: SpawnDenoOptions = {}) {
    this.name = options.name ?? args[0];
    const echo = options.echo ?? Deno.env.get("OSQUEUE_E2E_ECHO") !== undefined;
    this.process = new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", "--quiet", ...args],
      cwd: options.cwd ?? ROOT,
      env: { NO_COLOR: "1", ...options.env },
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const print = echo ? (line: string) => console.error(`  [${this.name}] ${line}`) : undefined;
    this.stdout = new LineLog(this.process.stdout, print);
    this.stderr = new LineLog(this.process.stderr, print);
    this.status = this.process.status.then(async (status) => {
      this.#exited = true;
      await Promise.all([this.stdout.done, this.stderr.done]);
      return status;
    });
  }

  /** Whether the process has exited. */
  get exited(): boolean {
    return this.#exited;
  }

  /** Sends a signal (ignored once the process has exited). */
  kill(signal: Deno.Signal = "SIGTERM"): void {
    if (this.#exited) return;
    try {
      this.process.kill(signal);
    } catch {
      // it exited meanwhile
    }
  }

  /** Everything the child printed so far, for failure messages. */
  output(): string {
    return [
      `--- ${this.name} stdout ---`,
      ...this.stdout.lines,
      `--- ${this.name} stderr ---`,
      ...this.stderr.lines,
    ].join("\n");
  }

  /** Waits for the exit; SIGKILLs the child if it takes longer than `timeoutMs`. */
  async exit(timeoutMs = 10_000): Promise<Deno.CommandStatus> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<"timeout">((resolve) => {
      timer = setTimeout(() => resolve("timeout"), timeoutMs);
    });
    const first = await Promise.race([this.status, timeout]);
    clearTimeout(timer);
    if (first !== "timeout") return first;
    this.kill("SIGKILL");
    await this.status;
    throw new Error(`${this.name} did not exit within ${timeoutMs} ms\n${this.output()}`);
  }

  /** Kills the child (SIGKILL) if it still runs and waits for it. */
  async [Symbol.asyncDispose](): Promise<void> {
    this.kill("SIGKILL");
    await this.status;
  }
}

/** Spawns `deno run -A --quiet <args…>` in the repository root. */
export function spawnDeno(args: string[], options: SpawnDenoOptions = {}): DenoChild {
  return new DenoChild(args, options);
}

/** Runs `deno run -A --quiet <args…>` to completion; returns its exit code and output. */
export async function runDeno(
  args: string[],
  options: SpawnDenoOptions & { timeoutMs?: number } = {},
): Promise<{ code: number; stdout: string; stderr: string; child: DenoChild }> {
  const child = spawnDeno(args, options);
  const status = await child.exit(options.timeoutMs ?? 20_000);
  return {
    code: status.code,
    stdout: child.stdout.lines.join("\n"),
    stderr: child.stderr.lines.join("\n"),
    child,
  };
}

/** Options of {@linkcode startCliBroker}. */
export interface CliBrokerOptions {
  /** The `--data` directory (not passed when `extra` has `--storage`). */
  data: string;
  /** `--identity` (default `e2e-broker`; `""` leaves it to the CLI's default). */
  identity?: string;
  /** `--listen` (default `127.0.0.1:0`). */
  listen?: string;
  /** `--heartbeat-timeout` (default `30s`). */
  heartbeatTimeout?: string;
  /** `--heartbeat-check` (default `5s`). */
  heartbeatCheck?: string;
  /** An admin token, passed in env `OSQUEUE_TOKEN` (not on the command line). */
  token?: string;
  /** Extra environment variables. */
  env?: Record<string, string>;
  /** Extra CLI arguments. */
  extra?: string[];
  /** Label for output (default `broker`). */
  name?: string;
}

/** A CLI broker child and the URL it logged. */
export interface CliBroker extends AsyncDisposable {
  /** The child process. */
  readonly child: DenoChild;
  /** The URL from its `[osqueue] broker <id> leader on <url>` line. */
  readonly url: string;
}

/**
 * Starts `cli/main.ts broker` and waits for its `leader on <url>` line.
 * Disposal SIGKILLs it if it is still running.
 */
export async function startCliBroker(options: CliBrokerOptions): Promise<CliBroker> {
  const child = spawnDeno([
    repoPath("cli/main.ts"),
    "broker",
    "--listen",
    options.listen ?? "127.0.0.1:0",
    // --data and --storage exclude each other: extra --storage replaces --data.
    ...(options.extra?.includes("--storage") ? [] : ["--data", options.data]),
    ...(options.identity === "" ? [] : ["--identity", options.identity ?? "e2e-broker"]),
    "--heartbeat-timeout",
    options.heartbeatTimeout ?? "30s",
    "--heartbeat-check",
    options.heartbeatCheck ?? "5s",
    ...(options.extra ?? []),
  ], {
    name: options.name ?? "broker",
    env: {
      ...(options.token === undefined ? {} : { OSQUEUE_TOKEN: options.token }),
      ...options.env,
    },
  });
  let url: string;
  try {
    // An info line: on stdout since the CLI has log levels.
    const match = await child.stdout.waitFor(/\[osqueue\] broker \S+ leader on (http:\/\/\S+)/);
    url = match[1];
  } catch (error) {
    child.kill("SIGKILL");
    await child.status;
    throw new Error(`broker did not start: ${(error as Error).message}\n${child.output()}`);
  }
  return { child, url, [Symbol.asyncDispose]: () => child[Symbol.asyncDispose]() };
}

/** A TCP port that was free a moment ago (for a process that must come back on the same port). */
export function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const { port } = listener.addr as Deno.NetAddr;
  listener.close();
  return port;
}

/** What a queue directory holds: the state and every archived job record. */
export interface QueueContents {
  /** The decoded state. */
  state: QueueState;
  /** Counters computed from the state. */
  stats: QueueStats;
  /** A job by id: from the state, else its (last) archive record. */
  find(id: string): Job | undefined;
}

/** Reads a queue straight from a `--data` directory (state plus archives). */
export async function readQueue(root: string): Promise<QueueContents> {
  const store = new DirectoryStore({ root });
  const snapshot = await readQueueState({ store });
  if (snapshot === null) throw new Error(`no queue state in ${root}`);
  const state = snapshot.state;
  const archived = new Map<string, Job>();
  for (const key of await store.list("archive/")) {
    const object = await store.get(key);
    if (object === null) continue;
    for (const job of decodeArchive(object.body)) archived.set(job.id, job);
  }
  return {
    state,
    stats: queueStats(state, Date.now()),
    find: (id) => findJob(state, id) ?? archived.get(id),
  };
}
