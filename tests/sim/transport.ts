/**
 * The transports of the simulation's clients: the real {@linkcode OsqueueClient}
 * (`connectClient`) over the simulated network of `network.ts`, and the real
 * {@linkcode Worker} runtime on such a client.
 *
 * @module
 */
import { connectClient, type OsqueueClient } from "../../worker/client.ts";
import type { Operation, OperationResult } from "../../protocol/operations.ts";
import { type ClientContext, errorCode, pause, type Transport } from "./clients.ts";
import { type JobContext, Worker, type WorkerClient } from "../../worker/worker.ts";
import type { JsonValue } from "../../protocol/operations.ts";
import type { Scheduler } from "./scheduler.ts";
import type { TransportFactory } from "./simulation.ts";
import { brokerUrl, type SimNetwork, simWebSocket } from "./network.ts";

/** A {@linkcode Transport} over a real {@linkcode OsqueueClient}. */
export class ClientTransport implements Transport {
  /** What the client waits for now (for diagnostics). */
  waiting: string | undefined;

  constructor(readonly client: OsqueueClient, private readonly scheduler: Scheduler) {}

  /** Sends `op` through the real client. */
  async request<O extends Operation>(op: O): Promise<OperationResult<O>> {
    this.waiting = `${op.op} since ${this.scheduler.now}`;
    try {
      return await this.client.request(op);
    } finally {
      this.waiting = undefined;
    }
  }

  /** Closes the client. */
  close(): void {
    void this.client.close().catch(() => {});
  }
}

/**
 * The transport factory for `runSimulation`: each client is a real
 * `connectClient` given every broker's URL (starting at a random one) over
 * simulated WebSockets; it follows `not_leader` redirects, keepalive pings
 * and reconnects by itself.
 */
export const wsTransport: TransportFactory = (context) => {
  const { scheduler, rng, node, hosts } = context;
  const network: SimNetwork = {
    scheduler,
    rng,
    hosts,
    dropRate: () => context.faulty() ? 0.003 : 0,
    trace: context.trace,
  };
  // Every broker's URL, starting at a random one: the client moves on when one
  // cannot be reached or stops answering (keepalive pings on virtual time).
  const first = rng.int(0, hosts.length - 1);
  const urls = hosts.map((_, i) => brokerUrl(hosts[(first + i) % hosts.length].id));
  const client = connectClient({
    urls,
    WebSocket: simWebSocket(network, node),
    timers: {
      setTimeout: (fn, ms) => scheduler.after(ms, fn, node),
      clearTimeout: (handle) => scheduler.cancel(handle),
    },
    clock: () => scheduler.now,
    reconnect: { random: () => rng.next(), minDelayMs: 50, maxDelayMs: 1000 },
    requestTimeoutMs: 30_000,
  });
  return new ClientTransport(client, scheduler);
};

/** Options of {@linkcode runRuntimeWorker}. */
export interface RuntimeWorkerOptions {
  /** Job types to run. */
  types: readonly string[];
  /** Lease length, ms. */
  leaseMs: number;
  /** Probability, per job, that the worker process dies while holding it (until `diesUntil`). */
  dieRate: number;
  /** Workers die only before this virtual time. */
  diesUntil: number;
}

/**
 * Runs the real {@linkcode Worker} runtime (push delivery, heartbeats,
 * settle retries) on a client transport; acknowledged completions go to the
 * ledger through a client wrapper. Resolves when the worker process dies.
 */
export async function runRuntimeWorker(
  context: ClientContext,
  options: RuntimeWorkerOptions,
): Promise<void> {
  const { scheduler, rng, ledger, node } = context;
  const transport = context.transport;
  if (!(transport instanceof ClientTransport)) throw new Error("needs the WebSocket transport");
  const client = transport.client;
  const wrapped: WorkerClient = {
    subscribe: (params, onJobs) => client.subscribe(params, onJobs),
    unsubscribe: () => client.unsubscribe(),
    credit: (credits) => client.credit(credits),
    heartbeat: (id, token, leaseMs) => client.heartbeat(id, token, leaseMs),
    startHeartbeat: (id, token, loop) => client.startHeartbeat(id, token, loop),
    complete: async (id, token, result) => {
      try {
        const reply = await client.complete(id, token, result);
        ledger.ack("complete");
        ledger.complete(id, token);
        context.trace(node.name, `complete ${id} acknowledged`);
        return reply;
      } catch (error) {
        ledger.error(errorCode(error));
        throw error;
      }
    },
    fail: async (id, token, message, failOptions) => {
      const reply = await client.fail(id, token, message, failOptions);
      ledger.ack("fail");
      if (reply.state === "dead") ledger.dead.add(id);
      return reply;
    },
    release: (id, token) => client.release(id, token),
  };
  let died!: () => void;
  const dead = new Promise<void>((resolve) => died = resolve);
  const handler = async (job: JobContext<unknown>): Promise<JsonValue> => {
    const ms = rng.chance(0.2) ? rng.int(1000, 6000) : rng.int(5, 600);
    await pause(context, ms);
    if (scheduler.now < options.diesUntil && rng.chance(options.dieRate)) {
      context.trace(node.name, `runtime worker DIES holding ${job.id}`);
      node.crashed = true;
      transport.close();
      died();
      await new Promise(() => {});
    }
    if (rng.chance(0.1)) throw new Error("simulated handler failure");
    return { by: node.name };
  };
  const worker = new Worker({
    client: wrapped,
    workerId: node.name,
    handlers: Object.fromEntries(options.types.map((type) => [type, handler])),
    concurrency: rng.int(1, 3),
    leaseMs: options.leaseMs,
    timers: {
      setTimeout: (fn, ms) => scheduler.after(ms, fn, node),
      clearTimeout: (handle) => scheduler.cancel(handle),
    },
    log: () => {},
  });
  // The broker may be down or not leading yet: keep trying to subscribe.
  while (!node.crashed) {
    try {
      await worker.start();
      break;
    } catch (error) {
      ledger.error(errorCode(error));
      await pause(context, rng.int(100, 1000));
    }
  }
  await dead;
}
