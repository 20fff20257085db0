/**
 * Simulated producers and workers. They talk to brokers through a
 * {@linkcode Transport} (direct calls over simulated connections, or the
 * real WebSocket client), follow `not_leader` to the leader, retry only what
 * is known not to have been applied, and write every acknowledgement into
 * the {@linkcode Ledger}.
 *
 * @module
 */
import { OsqueueError, ShuttingDownError } from "../../errors.ts";
import type { ClaimedJob, Operation, OperationResult, PushJob } from "../../protocol/operations.ts";
import type { Ledger } from "./ledger.ts";
import type { Rng, Scheduler, SimNode } from "./scheduler.ts";

/** How a client sends operations: resolves with the reply or rejects with the error. */
export interface Transport {
  /** Sends `op` and waits for its answer (following the leader as the transport can). */
  request<O extends Operation>(op: O): Promise<OperationResult<O>>;
  /** Closes the transport (the client is done or died). */
  close(): void;
}

/** The code of an error as clients see it. */
export function errorCode(error: unknown): string {
  if (error instanceof OsqueueError) return error.code;
  const code = (error as { code?: unknown })?.code;
  return typeof code === "string" ? code : "exception";
}

/** What every simulated client needs. */
export interface ClientContext {
  /** The virtual clock. */
  scheduler: Scheduler;
  /** Randomness of this client. */
  rng: Rng;
  /** The client's node (a dead client's timers never fire). */
  node: SimNode;
  /** The acknowledgements. */
  ledger: Ledger;
  /** Trace sink. */
  trace: (node: string, text: string) => void;
  /** The transport. */
  transport: Transport;
}

/** Resolves after `ms` on the client's node (never, once the client is dead). */
export function pause(context: ClientContext, ms: number): Promise<void> {
  return new Promise((resolve) => context.scheduler.after(ms, resolve, context.node));
}

/** Options of {@linkcode runProducer}. */
export interface ProducerOptions {
  /** Stop pushing at this virtual time. */
  until: number;
  /** Job types to push. */
  types: readonly string[];
}

/**
 * Pushes small batches of jobs (some with idempotency keys, retried with the
 * same key after an unknown outcome), now and then cancels or reads a job.
 */
export async function runProducer(context: ClientContext, options: ProducerOptions): Promise<void> {
  const { scheduler, rng, ledger, node } = context;
  let next = 0;
  const known: string[] = [];
  while (scheduler.now < options.until && !node.crashed) {
    await pause(context, rng.int(20, 1200));
    const action = rng.next();
    if (action < 0.85 || known.length === 0) {
      const jobs: PushJob[] = [];
      const count = rng.int(1, 3);
      for (let i = 0; i < count; i++) {
        const uid = `${node.name}-${next++}`;
        const job: PushJob = {
          type: rng.pick(options.types),
          payload: { uid },
          maxAttempts: rng.int(1, 4),
          backoff: { type: "fixed", delayMs: rng.int(50, 500) },
        };
        if (rng.chance(0.3)) job.idempotencyKey = `key-${uid}`;
        if (rng.chance(0.1)) job.delayMs = rng.int(10, 2000);
        if (rng.chance(0.2)) job.priority = rng.int(-2, 2);
        jobs.push(job);
      }
      await pushWithRetries(context, jobs, known);
    } else if (action < 0.93) {
      const id = rng.pick(known);
      try {
        const reply = await context.transport.request({ op: "cancel", jobId: id });
        ledger.ack("cancel");
        if (reply.cancelled) {
          ledger.cancel(id);
          context.trace(node.name, `cancel ${id} acknowledged`);
        }
      } catch (error) {
        ledger.error(errorCode(error));
      }
    } else {
      const id = rng.pick(known);
      try {
        await context.transport.request({ op: "get", jobId: id });
        ledger.ack("get");
      } catch (error) {
        ledger.error(errorCode(error));
      }
    }
  }
}

/** Pushes `jobs`; after an unknown outcome, retries the keyed ones (same key and payload) a few times. */
async function pushWithRetries(
  context: ClientContext,
  jobs: PushJob[],
  known: string[],
): Promise<void> {
  const { scheduler, ledger, node, rng } = context;
  for (let attempt = 0; attempt < 5 && jobs.length > 0 && !node.crashed; attempt++) {
    try {
      const reply = await context.transport.request({ op: "push", jobs });
      ledger.ack("push");
      reply.jobs.forEach((result, i) => {
        const job = jobs[i];
        const uid = (job.payload as { uid: string }).uid;
        ledger.pushed({
          uid,
          key: job.idempotencyKey,
          id: result.id,
          duplicate: result.duplicate,
          at: scheduler.now,
        });
        known.push(result.id);
      });
      context.trace(
        node.name,
        `push acknowledged: ${
          reply.jobs.map((r, i) =>
            `${(jobs[i].payload as { uid: string }).uid}→${r.id}${r.duplicate ? " (dup)" : ""}`
          ).join(", ")
        }`,
      );
      return;
    } catch (error) {
      const code = errorCode(error);
      ledger.error(code);
      // Unknown outcome: only jobs with an idempotency key may be sent again.
      jobs = jobs.filter((job) => job.idempotencyKey !== undefined);
      if (jobs.length > 0) await pause(context, rng.int(50, 1500));
    }
  }
}

/** Options of {@linkcode runWorker}. */
export interface WorkerOptions {
  /** Stop claiming at this virtual time. */
  until: () => number;
  /** Probability, per job, that the worker dies while holding it (until `diesUntil`). */
  dieRate: number;
  /** Workers die only before this virtual time. */
  diesUntil: number;
  /** Lease length, ms. */
  leaseMs: number;
}

/**
 * Claims jobs (sometimes long-polling), works on each for a while with
 * heartbeats, then completes, fails, releases or abandons it; may die holding
 * a job. Returns when it stops or dies.
 */
export async function runWorker(context: ClientContext, options: WorkerOptions): Promise<void> {
  const { scheduler, rng, ledger, node } = context;
  while (scheduler.now < options.until() && !node.crashed) {
    let jobs: ClaimedJob[];
    try {
      const reply = await context.transport.request({
        op: "claim",
        workerId: node.name,
        max: rng.int(1, 2),
        leaseMs: options.leaseMs,
        waitMs: rng.chance(0.5) ? rng.int(200, 2000) : 0,
      });
      ledger.ack("claim");
      jobs = reply.jobs;
    } catch (error) {
      ledger.error(errorCode(error));
      await pause(context, rng.int(50, 500));
      continue;
    }
    if (jobs.length === 0) {
      await pause(context, rng.int(50, 600));
      continue;
    }
    for (const job of jobs) {
      if (node.crashed) return;
      await work(context, options, job);
    }
  }
}

async function work(
  context: ClientContext,
  options: WorkerOptions,
  job: ClaimedJob,
): Promise<void> {
  const { scheduler, rng, ledger, node } = context;
  let left = rng.chance(0.2) ? rng.int(1000, 6000) : rng.int(5, 600);
  while (left > 0) {
    const step = Math.min(left, Math.floor(options.leaseMs / 3));
    await pause(context, step);
    left -= step;
    if (scheduler.now < options.diesUntil && rng.chance(options.dieRate)) {
      context.trace(node.name, `worker DIES holding ${job.id}`);
      node.crashed = true;
      context.transport.close();
      return;
    }
    if (left > 0) {
      try {
        await context.transport.request({
          op: "heartbeat",
          jobId: job.id,
          leaseToken: job.leaseToken,
          leaseMs: options.leaseMs,
        });
        ledger.ack("heartbeat");
      } catch (error) {
        const code = errorCode(error);
        ledger.error(code);
        if (code === "lease_lost" || code === "job_not_found") return;
      }
    }
  }
  const choice = rng.next();
  try {
    if (choice < 0.8) {
      await context.transport.request({
        op: "complete",
        jobId: job.id,
        leaseToken: job.leaseToken,
        result: { by: node.name },
      });
      ledger.ack("complete");
      ledger.complete(job.id, job.leaseToken);
      context.trace(node.name, `complete ${job.id} acknowledged`);
    } else if (choice < 0.92) {
      const reply = await context.transport.request({
        op: "fail",
        jobId: job.id,
        leaseToken: job.leaseToken,
        error: "simulated failure",
        retry: rng.chance(0.9),
      });
      ledger.ack("fail");
      if (reply.state === "dead") ledger.dead.add(job.id);
    } else if (choice < 0.97) {
      await context.transport.request({
        op: "release",
        jobId: job.id,
        leaseToken: job.leaseToken,
      });
      ledger.ack("release");
    }
    // else: abandon; the lease runs out.
  } catch (error) {
    ledger.error(errorCode(error));
  }
}

/**
 * A direct transport: sends through `send(target)` to a broker host,
 * follows `not_leader` (to the named leader, else another broker) and
 * retries requests known not to have been applied.
 */
export class DirectTransport implements Transport {
  #target: number;
  #closed = false;

  /** A transport over `hosts` (their ids), sending with `send`. */
  constructor(
    private readonly context: { scheduler: Scheduler; rng: Rng; node: SimNode },
    private readonly hosts: readonly string[],
    private readonly send: <O extends Operation>(
      host: number,
      op: O,
    ) => Promise<OperationResult<O>>,
  ) {
    this.#target = context.rng.int(0, hosts.length - 1);
  }

  /** What the client waits for now (for diagnostics). */
  waiting: string | undefined;

  /** Sends `op`, retrying while the outcome is known to be "not applied". */
  async request<O extends Operation>(op: O): Promise<OperationResult<O>> {
    this.waiting = `${op.op} since ${this.context.scheduler.now}`;
    try {
      return await this.#request(op);
    } finally {
      this.waiting = undefined;
    }
  }

  async #request<O extends Operation>(op: O): Promise<OperationResult<O>> {
    const { rng } = this.context;
    for (let attempt = 0;; attempt++) {
      if (this.#closed) throw new ShuttingDownError("client closed");
      try {
        return await this.send(this.#target, op);
      } catch (error) {
        const code = errorCode(error);
        const notApplied = code === "not_leader" || code === "connection_refused" ||
          code === "shutting_down";
        if (!notApplied || attempt >= 12) throw error;
        const leaderId = error instanceof OsqueueError
          ? (error.data as { leaderId?: string } | undefined)?.leaderId
          : undefined;
        const named = leaderId === undefined ? -1 : this.hosts.indexOf(leaderId);
        if (named >= 0 && named !== this.#target) {
          this.#target = named;
        } else {
          this.#target = (this.#target + rng.int(1, this.hosts.length - 1)) % this.hosts.length;
          await new Promise<void>((resolve) =>
            this.context.scheduler.after(rng.int(20, 300), resolve, this.context.node)
          );
        }
      }
    }
  }

  /** Stops sending. */
  close(): void {
    this.#closed = true;
  }
}
