/**
 * One simulated run from one seed: 2–3 real brokers on one simulated store,
 * producers and workers, and a fault schedule (crashes and restarts at any
 * await, freezes, store storms, dying workers) drawn from the seed; then the
 * faults stop and the queue must drain. Invariants are checked while it runs
 * and at the end (see `invariants.ts`). The same seed always replays the
 * same run.
 *
 * @module
 */
import { readQueueState } from "../../broker/read_state.ts";
import { listJobs } from "../../core/state.ts";
import { BrokerHost } from "./brokers.ts";
import {
  type ClientContext,
  DirectTransport,
  runProducer,
  runWorker,
  type Transport,
} from "./clients.ts";
import { checkCommitEvent, checkFinal, checkOpenCalls, checkRecord } from "./invariants.ts";
import { Ledger } from "./ledger.ts";
import { Rng, Scheduler, SimNode } from "./scheduler.ts";
import { NO_FAULTS, type StoreFaults, StoreWorld } from "./sim_store.ts";

/** Options of {@linkcode runSimulation}. */
export interface SimulationOptions {
  /** The seed: everything in the run follows from it. */
  seed: number;
  /** Virtual milliseconds of faults (default: 20–60 s drawn from the seed). */
  chaosMs?: number;
  /** Longest virtual time the queue may take to drain after the faults stop (default 600 s). */
  drainMs?: number;
  /** How many trace lines a failure shows (default 50). */
  traceLines?: number;
  /** Builds a client's transport (default: direct calls to the brokers). */
  transport?: TransportFactory;
  /**
   * Runs a worker on the real `Worker` runtime (needs the WebSocket
   * transport); when given, half the workers use it.
   */
  runtimeWorker?: (
    context: ClientContext,
    options: { types: readonly string[]; leaseMs: number; dieRate: number; diesUntil: number },
  ) => Promise<void>;
  /** Called with the store at the end (e.g. to show a job's history). */
  onEnd?: (world: StoreWorld) => Promise<void> | void;
}

/** Builds the transport of one client. */
export type TransportFactory = (
  context: {
    scheduler: Scheduler;
    rng: Rng;
    node: SimNode;
    hosts: BrokerHost[];
    /** Whether the fault phase is on. */
    faulty: () => boolean;
    /** Trace sink. */
    trace: (node: string, text: string) => void;
  },
  direct: () => Transport,
) => Transport;

/** What one run did. */
export interface SimulationResult {
  /** The seed. */
  seed: number;
  /** The first invariant violation, if any. */
  failure?: string;
  /** The last trace lines (all of them kept, up to `traceLines`). */
  trace: string[];
  /** Counters of the run. */
  stats: SimulationStats;
}

/** Counters of one run. */
export interface SimulationStats {
  /** Virtual milliseconds simulated. */
  virtualMs: number;
  /** Timer events run. */
  steps: number;
  /** Brokers. */
  brokers: number;
  /** Log records that landed. */
  records: number;
  /** Broker crashes. */
  crashes: number;
  /** Graceful restarts. */
  restarts: number;
  /** Freezes. */
  freezes: number;
  /** Store fault storms. */
  storms: number;
  /** Workers that died holding a job. */
  workerDeaths: number;
  /** Injected store faults by kind. */
  storeFaults: Record<string, number>;
  /** Broker events by name (takeover, step-down, conflict, checkpoint, gc…). */
  events: Record<string, number>;
  /** Acknowledged operations by op. */
  acks: Record<string, number>;
  /** Failed operations by error code. */
  errors: Record<string, number>;
  /** Jobs in the final state and archives. */
  jobs: number;
}

/** Epoch ms the virtual clock starts at. */
const START = Date.UTC(2026, 0, 1);

/** Broker settings scaled down so that one run covers many leader changes and checkpoints. */
const BROKER_OPTIONS = {
  takeoverTimeoutMs: 3000,
  renewIntervalMs: 1000,
  standbyPollMs: 300,
  heartbeatTimeoutMs: 4000,
  heartbeatCheckMs: 500,
  checkpointMinRecords: 4,
  checkpointMaxRecords: 64,
  checkpointMinIntervalMs: 300,
  archiveMaxJobs: 8,
  archiveMaxAgeMs: 800,
  startWaitMs: 3000,
  stopTimeoutMs: 3000,
} as const;

/** Runs one simulation. */
export async function runSimulation(options: SimulationOptions): Promise<SimulationResult> {
  const seed = options.seed;
  const rng = new Rng(seed);
  const scheduler = new Scheduler(START);
  const keep = Math.max(options.traceLines ?? 50, 1);
  const ring: string[] = [];
  const events: Record<string, number> = {};
  const trace = (node: string, text: string) => {
    ring.push(
      `${((scheduler.now - START) / 1000).toFixed(3).padStart(8)}s ${node.padEnd(6)} ${text}`,
    );
    if (ring.length > keep * 4) ring.splice(0, ring.length - keep);
  };
  let failure: string | undefined;
  const fail = (message: string) => {
    if (failure !== undefined) return;
    failure = message;
    trace("check", `VIOLATION: ${message}`);
  };
  const stats = { crashes: 0, restarts: 0, freezes: 0, storms: 0, workerDeaths: 0 };

  // The fault plan.
  const chaosMs = options.chaosMs ?? rng.int(20_000, 60_000);
  const chaosEnd = START + chaosMs;
  const drainMs = options.drainMs ?? 600_000;
  const base: StoreFaults = {
    unavailable: rng.next() * 0.04,
    conflict: rng.next() * 0.03,
    ambiguous: rng.next() * 0.06,
    slow: rng.next() * 0.05,
  };
  const world = new StoreWorld(scheduler, trace);
  const brokerCount = rng.int(2, 3);
  const stormUntil = new Array<number>(brokerCount).fill(0);
  const faultsOf = (i: number) => (): StoreFaults => {
    if (scheduler.now >= chaosEnd) return NO_FAULTS;
    if (scheduler.now < stormUntil[i]) {
      return {
        unavailable: Math.min(0.5, base.unavailable * 4 + 0.05),
        conflict: Math.min(0.3, base.conflict * 4 + 0.02),
        ambiguous: Math.min(0.4, base.ambiguous * 4 + 0.05),
        slow: Math.min(0.5, base.slow * 4 + 0.05),
      };
    }
    return base;
  };
  const hosts: BrokerHost[] = [];
  for (let i = 0; i < brokerCount; i++) {
    hosts.push(
      new BrokerHost(`b${i}`, {
        scheduler,
        world,
        rng: rng.fork(),
        faults: faultsOf(i),
        brokerOptions: {
          ...BROKER_OPTIONS,
          log: (event) => {
            events[event.event] = (events[event.event] ?? 0) + 1;
          },
        },
        trace,
        netDelay: () => rng.int(1, 5),
        clockOffsetMs: rng.chance(0.5) ? 0 : rng.int(-1500, 1500),
        onCommit: (commit) => checkCommitEvent(world.records, commit, fail),
      }),
    );
  }
  const writers = new Map<number, string>();
  world.onRecord = (record) => checkRecord(writers, record, fail);
  const ledger = new Ledger(fail);
  const system = new SimNode("sim");
  for (const host of hosts) scheduler.after(rng.int(0, 300), () => host.start(), system);

  // Clients.
  const types = ["email", "resize", "report"];
  let workersUntil = chaosEnd + drainMs;
  let producersRunning = 0;
  let clientCount = 0;
  const clients: ClientContext[] = [];
  const makeClient = (prefix: string): ClientContext => {
    const node = new SimNode(`${prefix}${clientCount++}`);
    const clientRng = rng.fork();
    const direct = () =>
      new DirectTransport(
        { scheduler, rng: clientRng, node },
        hosts.map((host) => host.id),
        (target, op) => hosts[target].call(node, op, () => {}),
      );
    const transport = options.transport === undefined ? direct() : options.transport({
      scheduler,
      rng: clientRng,
      node,
      hosts,
      faulty: () => scheduler.now < chaosEnd,
      trace,
    }, direct);
    const context = { scheduler, rng: clientRng, node, ledger, trace, transport };
    clients.push(context);
    return context;
  };
  const producers = rng.int(1, 3);
  for (let i = 0; i < producers; i++) {
    const context = makeClient("p");
    producersRunning++;
    scheduler.after(rng.int(0, 500), () => {
      runProducer(context, { until: chaosEnd, types }).catch((error) =>
        fail(`producer ${context.node.name} threw: ${error?.stack ?? error}`)
      ).finally(() => {
        producersRunning--;
        context.transport.close();
      });
    }, system);
  }
  const leaseMs = rng.int(1500, 5000);
  const startWorker = () => {
    const runtime = options.runtimeWorker !== undefined && rng.chance(0.5);
    const context = makeClient(runtime ? "rw" : "w");
    const run = () =>
      (runtime
        ? options.runtimeWorker!(context, { types, leaseMs, dieRate: 0.01, diesUntil: chaosEnd })
        : runWorker(context, {
          until: () => workersUntil,
          dieRate: 0.01,
          diesUntil: chaosEnd,
          leaseMs,
        })).catch((error) => fail(`worker ${context.node.name} threw: ${error?.stack ?? error}`))
        .finally(() => {
          if (context.node.crashed) {
            stats.workerDeaths++;
            // A replacement worker starts a little later.
            scheduler.after(rng.int(200, 4000), startWorker, system);
          }
        });
    scheduler.after(rng.int(0, 500), () => void run(), system);
  };
  const workers = rng.int(2, 4);
  for (let i = 0; i < workers; i++) startWorker();

  // The fault schedule.
  const chaos = new SimNode("chaos");
  const restartLater = (host: BrokerHost, ms: number) =>
    scheduler.after(ms, () => {
      if (host.current === undefined) host.start();
    }, system);
  const nextFault = () => {
    if (scheduler.now >= chaosEnd) return;
    const host = rng.pick(hosts);
    const action = rng.next();
    if (action < 0.3) {
      if (host.current !== undefined) {
        stats.crashes++;
        host.crash();
        restartLater(host, rng.int(100, 8000));
      }
    } else if (action < 0.5) {
      if (host.current !== undefined) {
        stats.freezes++;
        host.freeze(rng.int(300, 12_000));
      }
    } else if (action < 0.8) {
      const i = hosts.indexOf(host);
      stats.storms++;
      stormUntil[i] = scheduler.now + rng.int(500, 8000);
      trace(host.id, `store STORM until +${stormUntil[i] - scheduler.now} ms`);
    } else if (action < 0.9) {
      if (host.current !== undefined) {
        stats.restarts++;
        const delay = rng.int(50, 3000);
        host.stop().then(() => restartLater(host, delay));
      }
    }
    scheduler.after(rng.int(200, 5000), nextFault, chaos);
  };
  scheduler.after(rng.int(500, 3000), nextFault, chaos);

  // Requests must settle: checked every virtual second.
  const checker = new SimNode("check");
  const check = () => {
    checkOpenCalls(hosts, scheduler.now, fail);
    scheduler.after(1000, check, checker);
  };
  scheduler.after(1000, check, checker);

  // Faults, then drain.
  const stop = () => failure !== undefined;
  await scheduler.run(chaosEnd, stop);
  for (const host of hosts) if (host.current === undefined) restartLater(host, 0);
  let drained = false;
  while (failure === undefined && scheduler.now < chaosEnd + drainMs) {
    await scheduler.run(scheduler.now + 2000, stop);
    if (producersRunning > 0) continue;
    const snapshot = await readQueueState({ store: world.inner });
    const open = snapshot === null
      ? []
      : listJobs(snapshot.state).filter((job) =>
        job.state === "ready" || job.state === "delayed" || job.state === "active"
      );
    const leading = hosts.some((host) => host.current?.broker.leaderInfo().leader === true);
    if (open.length === 0 && leading) {
      drained = true;
      break;
    }
  }
  // Let the workers stop and what is in flight settle.
  workersUntil = Math.min(workersUntil, scheduler.now);
  if (failure === undefined) await scheduler.run(scheduler.now + 30_000, stop);
  if (failure === undefined) {
    await checkFinal({ world, ledger, hosts, now: scheduler.now, drained, fail });
    if (failure !== undefined) {
      for (const client of clients) {
        const waiting = (client.transport as { waiting?: string }).waiting;
        trace(
          client.node.name,
          `${client.node.crashed ? "dead" : "alive"}, waiting for ${waiting ?? "nothing"}`,
        );
      }
    }
  }
  const jobs = await countJobs(world);
  await options.onEnd?.(world);
  return {
    seed,
    failure,
    trace: ring.slice(-keep),
    stats: {
      virtualMs: scheduler.now - START,
      steps: scheduler.steps,
      brokers: brokerCount,
      records: world.records.length,
      ...stats,
      storeFaults: { ...world.faults },
      events,
      acks: Object.fromEntries(ledger.acks),
      errors: Object.fromEntries(ledger.errors),
      jobs,
    },
  };
}

async function countJobs(world: StoreWorld): Promise<number> {
  try {
    const snapshot = await readQueueState({ store: world.inner });
    return snapshot === null ? 0 : listJobs(snapshot.state).length;
  } catch {
    return -1;
  }
}

/** A failed run as text: the message, the replay command (with `extraArgs`), the last events. */
export function formatFailure(result: SimulationResult, extraArgs = ""): string {
  return [
    `seed ${result.seed} FAILED: ${result.failure}`,
    `replay: deno task sim --seed ${result.seed}${extraArgs}`,
    `last ${result.trace.length} events (virtual time, node, event):`,
    ...result.trace.map((line) => `  ${line}`),
  ].join("\n");
}
