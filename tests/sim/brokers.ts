/**
 * Simulated broker processes: each host runs one real {@linkcode Broker} at a
 * time (an incarnation) on the virtual clock and its own store link. A crash
 * drops the incarnation wherever it is awaiting (its timers and store
 * answers never arrive again); a restart is a new `Broker` with the same
 * identity. Clients reach a host through {@linkcode BrokerHost.call}, a
 * connection that delays messages and fails with {@linkcode ConnectionLost}
 * when the incarnation crashes before answering.
 *
 * @module
 */
import { Broker } from "../../broker/broker.ts";
import type { BrokerOptions } from "../../broker/options.ts";
import type { Operation, OperationResult } from "../../protocol/operations.ts";
import type { Rng, Scheduler } from "./scheduler.ts";
import { SimNode } from "./scheduler.ts";
import { SimStore, type StoreFaults, type StoreWorld } from "./sim_store.ts";

/** The connection to a broker broke before its answer arrived: the request may or may not have been applied. */
export class ConnectionLost extends Error {
  /** Always `connection_lost`. */
  readonly code = "connection_lost";
}

/** The broker was not running when the request arrived: nothing was applied. */
export class ConnectionRefused extends Error {
  /** Always `connection_refused`. */
  readonly code = "connection_refused";
}

/** A request a client sent to a broker incarnation and that has not been answered. */
export interface OpenCall {
  /** Sequence number of the call (for traces). */
  id: number;
  /** The operation. */
  op: Operation;
  /** Virtual time the broker received it. */
  receivedAt: number;
  /** The incarnation that received it. */
  incarnation: Incarnation;
  /** Fails the call (connection lost). */
  fail: (error: Error) => void;
}

/** One run of a broker process. */
export interface Incarnation {
  /** `b0#1`, `b0#2`, … */
  node: SimNode;
  /** The broker. */
  broker: Broker;
  /** Calls received and not answered yet. */
  calls: Set<OpenCall>;
  /** Virtual time it started. */
  startedAt: number;
  /** Virtual milliseconds it spent frozen so far. */
  frozenMs: number;
  /** Open client connections (WebSocket transport). */
  connections: Set<{ brokerDied(): void }>;
}

/** Options shared by every host. */
export interface HostOptions {
  /** The virtual clock. */
  scheduler: Scheduler;
  /** The shared store. */
  world: StoreWorld;
  /** Randomness for this host. */
  rng: Rng;
  /** Fault rates of this host's store link now. */
  faults: () => StoreFaults;
  /** Broker options other than store, identity, clock and randomness. */
  brokerOptions: Omit<BrokerOptions, "store" | "identity" | "clock">;
  /** Trace sink. */
  trace: (node: string, text: string) => void;
  /** One-way client↔broker delay, ms. */
  netDelay: () => number;
  /** How far this host's clock reads ahead of (or behind) the virtual time, ms. */
  clockOffsetMs?: number;
  /** Sees every commit a broker counts (its `commit` and `leader` events). */
  onCommit?: (commit: { node: string; seq: number; epoch: number }) => void;
}

/** A machine that runs incarnations of broker `id`. */
export class BrokerHost {
  /** The current incarnation, if running. */
  current: Incarnation | undefined;
  /** Every incarnation, oldest first. */
  readonly incarnations: Incarnation[] = [];
  #nextCall = 1;
  readonly #supervisor = new SimNode("supervisor");

  /** Host of broker `id`. */
  constructor(readonly id: string, readonly options: HostOptions) {}

  /** Starts a new incarnation (the previous one must be crashed or stopped). */
  start(): Incarnation {
    const o = this.options;
    const node = new SimNode(`${this.id}#${this.incarnations.length + 1}`);
    const rng = o.rng.fork();
    const store = new SimStore({
      world: o.world,
      node,
      scheduler: o.scheduler,
      rng: rng.fork(),
      faults: o.faults,
      trace: o.trace,
    });
    const broker = new Broker({
      ...o.brokerOptions,
      store,
      identity: { id: this.id, url: `http://${this.id}.sim` },
      clock: o.scheduler.clockFor(node, o.clockOffsetMs ?? 0),
      newToken: () => rng.uuid(),
      newNonce: () => rng.uuid(),
      random: () => rng.next(),
      log: (event) => {
        if (node.crashed) return;
        o.brokerOptions.log?.(event);
        if (event.event === "commit" || event.event === "leader") {
          const seq = (event.seq ?? event.commit) as number;
          o.onCommit?.({ node: node.name, seq, epoch: event.epoch as number });
        }
        o.trace(node.name, describeEvent(event));
      },
    });
    const incarnation: Incarnation = {
      node,
      broker,
      calls: new Set(),
      startedAt: o.scheduler.now,
      frozenMs: 0,
      connections: new Set(),
    };
    this.current = incarnation;
    this.incarnations.push(incarnation);
    o.trace(node.name, "start");
    broker.start().then(
      () => {
        if (!node.crashed) {
          o.trace(node.name, `started as ${broker.leaderInfo().leader ? "leader" : "standby"}`);
        }
      },
      (error) => {
        if (node.crashed) return;
        // The process exits; its supervisor starts it again a little later.
        o.trace(node.name, `start failed, exiting: ${String(error)}`);
        this.crash();
        o.scheduler.after(o.rng.int(100, 2000), () => {
          if (this.current === undefined) this.start();
        }, this.#supervisor);
      },
    );
    return incarnation;
  }

  /** Kills the current incarnation wherever it is; its open calls fail as lost connections. */
  crash(): void {
    const incarnation = this.current;
    if (incarnation === undefined) return;
    this.current = undefined;
    incarnation.node.crashed = true;
    this.options.trace(incarnation.node.name, "CRASH");
    for (const call of [...incarnation.calls]) {
      call.fail(new ConnectionLost(`${incarnation.node.name} crashed`));
    }
    incarnation.calls.clear();
    for (const connection of [...incarnation.connections]) connection.brokerDied();
    incarnation.connections.clear();
  }

  /** Freezes the current incarnation for `ms` (timers, store answers and requests wait; its clock jumps). */
  freeze(ms: number): void {
    const incarnation = this.current;
    if (incarnation === undefined) return;
    const now = this.options.scheduler.now;
    const until = Math.max(incarnation.node.frozenUntil, now + ms);
    incarnation.frozenMs += until - Math.max(now, incarnation.node.frozenUntil);
    incarnation.node.frozenUntil = until;
    this.options.trace(incarnation.node.name, `FREEZE for ${ms} ms`);
  }

  /** Stops the current incarnation gracefully (as on SIGTERM); resolves when it stopped. */
  async stop(): Promise<void> {
    const incarnation = this.current;
    if (incarnation === undefined) return;
    this.options.trace(incarnation.node.name, "graceful stop");
    await incarnation.broker.stop();
    if (this.current === incarnation) this.current = undefined;
    incarnation.node.crashed = true; // a stopped process runs nothing more
    for (const call of [...incarnation.calls]) {
      call.fail(new ConnectionLost(`${incarnation.node.name} stopped`));
    }
    incarnation.calls.clear();
    for (const connection of [...incarnation.connections]) connection.brokerDied();
    incarnation.connections.clear();
    this.options.trace(incarnation.node.name, "stopped");
  }

  /**
   * Sends `op` from `client` over a simulated connection: delayed both ways;
   * refused when no incarnation runs when it arrives; lost when the
   * incarnation dies before answering. `onOpen` sees the open call (for the
   * settle-deadline invariant).
   */
  call<O extends Operation>(
    client: SimNode,
    op: O,
    onOpen: (call: OpenCall) => void,
  ): Promise<OperationResult<O>> {
    const o = this.options;
    const scheduler = o.scheduler;
    const id = this.#nextCall++;
    return new Promise<OperationResult<O>>((resolve, reject) => {
      let done = false;
      const finish = (settle: () => void) => {
        if (done) return;
        done = true;
        settle();
      };
      scheduler.after(o.netDelay(), () => {
        const incarnation = this.current;
        if (incarnation === undefined) {
          scheduler.after(
            o.netDelay(),
            () => finish(() => reject(new ConnectionRefused(`${this.id} is down`))),
            client,
          );
          return;
        }
        const call: OpenCall = {
          id,
          op,
          receivedAt: scheduler.now,
          incarnation,
          fail: (error) => {
            incarnation.calls.delete(call);
            scheduler.after(o.netDelay(), () => finish(() => reject(error)), client);
          },
        };
        incarnation.calls.add(call);
        onOpen(call);
        // Handled as the broker: a frozen broker reads it after it thaws, a crashed one never.
        scheduler.after(0, () => {
          if (!incarnation.calls.has(call)) return;
          incarnation.broker.request(op).then(
            (value) => answer(() => resolve(value)),
            (error) => answer(() => reject(error)),
          );
          const answer = (settle: () => void) => {
            if (incarnation.node.crashed || !incarnation.calls.has(call)) return;
            // Sent as the broker (held while frozen, lost in a crash), received by the client.
            scheduler.after(0, () => {
              if (!incarnation.calls.delete(call)) return;
              scheduler.after(o.netDelay(), () => finish(settle), client);
            }, incarnation.node);
          };
        }, incarnation.node);
      }, client);
    });
  }
}

/** A broker log event as one trace line. */
export function describeEvent(event: { event: string; [field: string]: unknown }): string {
  const { event: name, ...rest } = event;
  const fields = Object.entries(rest)
    .filter(([key]) => key !== "ms" && key !== "bytes")
    .map(([key, value]) => `${key}=${typeof value === "string" ? value : JSON.stringify(value)}`)
    .join(" ");
  return fields === "" ? name : `${name} ${fields}`;
}
