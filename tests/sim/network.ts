/**
 * The real client and session code over a simulated network: an in-memory
 * `WebSocket` for {@linkcode OsqueueClient} (`connectClient`), and on the
 * broker side the real {@linkcode RpcSession} in front of each broker
 * incarnation, as `server.ts` wires it. Frames travel with random delays, in
 * order per direction (a WebSocket runs over one TCP stream, so frames never
 * overtake each other on one connection; frames on different connections
 * interleave freely); during the fault phase a connection sometimes drops
 * (both ends see code 1006 and frames in flight are lost). A broker that
 * crashes drops its connections; a frozen one reads and sends nothing until
 * it thaws.
 *
 * @module
 */
import { RpcSession } from "../../server/rpc_session.ts";
import type { Operation, OperationResult } from "../../protocol/operations.ts";
import type { QueueBackend, RequestOptions } from "../../protocol/backend.ts";
import type { BrokerHost, Incarnation, OpenCall } from "./brokers.ts";
import type { Rng, Scheduler, SimNode } from "./scheduler.ts";

/** The simulated network between clients and broker hosts. */
export interface SimNetwork {
  /** The virtual clock. */
  scheduler: Scheduler;
  /** Randomness of the network. */
  rng: Rng;
  /** The broker hosts, by id (`b0` is reached at `http://b0.sim`). */
  hosts: readonly BrokerHost[];
  /** Probability that a frame breaks its connection (fault phase only). */
  dropRate: () => number;
  /** Trace sink. */
  trace: (node: string, text: string) => void;
}

/** The URL clients use for broker `id`. */
export function brokerUrl(id: string): string {
  return `http://${id}.sim`;
}

const CONNECTING = 0;
const OPEN = 1;
const CLOSING = 2;
const CLOSED = 3;

/** One direction of a connection: frames delivered in order, each after a random delay. */
class Pipe {
  #last = 0;

  constructor(private readonly network: SimNetwork) {}

  /** Schedules `deliver` as `node`, no earlier than the previous frame of this pipe. */
  send(node: SimNode, deliver: () => void): void {
    const scheduler = this.network.scheduler;
    const at = Math.max(this.#last, scheduler.now + this.network.rng.int(1, 20));
    this.#last = at;
    scheduler.after(at - scheduler.now, deliver, node);
  }
}

/**
 * A `WebSocket` class whose instances connect to simulated broker hosts, as
 * client `node` (a dead client's sockets do nothing more).
 */
export function simWebSocket(network: SimNetwork, node: SimNode): typeof WebSocket {
  class SimWebSocket extends EventTarget {
    static readonly CONNECTING = CONNECTING;
    static readonly OPEN = OPEN;
    static readonly CLOSING = CLOSING;
    static readonly CLOSED = CLOSED;
    readonly CONNECTING = CONNECTING;
    readonly OPEN = OPEN;
    readonly CLOSING = CLOSING;
    readonly CLOSED = CLOSED;
    readonly url: string;
    readonly protocol = "";
    readonly extensions = "";
    readonly bufferedAmount = 0;
    binaryType: BinaryType = "blob";
    readyState: number = CONNECTING;
    onopen: ((event: Event) => void) | null = null;
    onmessage: ((event: MessageEvent) => void) | null = null;
    onclose: ((event: CloseEvent) => void) | null = null;
    onerror: ((event: Event) => void) | null = null;
    #server: ServerEnd | undefined;
    readonly #up = new Pipe(network);
    readonly #down = new Pipe(network);

    constructor(url: string | URL) {
      super();
      this.url = String(url);
      const host = network.hosts.find((h) => new URL(this.url).hostname === `${h.id}.sim`);
      this.#up.send(node, () => {
        const incarnation = host?.current;
        if (incarnation === undefined) {
          this.#down.send(node, () => this.#closed(1006, "connection refused", true));
          return;
        }
        this.#server = new ServerEnd(network, incarnation, {
          toClient: (frame) => {
            this.#down.send(incarnation.node, () => {
              this.#down.send(node, () => {
                if (this.readyState === OPEN) {
                  this.#emit(new MessageEvent("message", { data: frame }));
                }
              });
            });
          },
          closeClient: (code, reason) => {
            this.#down.send(node, () => this.#closed(code, reason, false));
          },
        });
        this.#down.send(node, () => {
          if (this.readyState !== CONNECTING) return;
          this.readyState = OPEN;
          this.#emit(new Event("open"));
        });
      });
    }

    send(data: string): void {
      if (this.readyState === CONNECTING) {
        throw new DOMException("still connecting", "InvalidStateError");
      }
      if (this.readyState !== OPEN) return;
      const server = this.#server;
      if (server === undefined) return;
      if (network.rng.chance(network.dropRate())) {
        network.trace(node.name, "connection DROPPED");
        server.drop();
        this.#down.send(node, () => this.#closed(1006, "connection dropped", true));
        return;
      }
      this.#up.send(node, () => server.receive(data));
    }

    close(code = 1000, reason = ""): void {
      if (this.readyState === CLOSING || this.readyState === CLOSED) return;
      this.readyState = CLOSING;
      const server = this.#server;
      this.#up.send(node, () => server?.closedByClient());
      this.#down.send(node, () => this.#closed(code, reason, false));
    }

    #closed(code: number, reason: string, error: boolean): void {
      if (this.readyState === CLOSED) return;
      this.readyState = CLOSED;
      if (error) this.#emit(new Event("error"));
      this.#emit(new CloseEvent("close", { code, reason, wasClean: !error }));
    }

    #emit(event: Event): void {
      this.dispatchEvent(event);
      const handler = (this as unknown as Record<string, unknown>)[`on${event.type}`];
      if (typeof handler === "function") handler.call(this, event);
    }
  }
  return SimWebSocket as unknown as typeof WebSocket;
}

/** The broker side of one connection: the real RpcSession on the incarnation. */
class ServerEnd {
  #session: RpcSession;
  #open = true;
  readonly #scheduler: Scheduler;
  readonly #incarnation: Incarnation;
  readonly #link: {
    toClient: (frame: string) => void;
    closeClient: (code: number, reason: string) => void;
  };

  constructor(
    network: SimNetwork,
    incarnation: Incarnation,
    link: {
      toClient: (frame: string) => void;
      closeClient: (code: number, reason: string) => void;
    },
  ) {
    this.#scheduler = network.scheduler;
    this.#incarnation = incarnation;
    this.#link = link;
    incarnation.connections.add(this);
    this.#session = new RpcSession({
      backend: trackedBackend(network.scheduler, incarnation),
      send: (frame) => {
        if (!this.#open || incarnation.node.crashed) return false;
        link.toClient(frame);
        return true;
      },
      close: (code, reason) => {
        if (!this.#open) return;
        this.#open = false;
        incarnation.connections.delete(this);
        this.#session.close();
        link.closeClient(code, reason);
      },
      clock: network.scheduler.clockFor(incarnation.node),
      label: incarnation.node.name,
    });
  }

  /** A frame from the client, handled as the broker (held while frozen, dropped once crashed). */
  receive(frame: string): void {
    this.#schedule(() => {
      if (this.#open) this.#session.handleFrame(frame);
    });
  }

  /** The client closed the connection. */
  closedByClient(): void {
    this.#schedule(() => this.#shut());
  }

  /** The connection broke (the client sees 1006). */
  drop(): void {
    this.#shut();
  }

  /** The broker died: the client sees 1006. */
  brokerDied(): void {
    if (!this.#open) return;
    this.#open = false;
    this.#link.closeClient(1006, "broker died");
  }

  #shut(): void {
    if (!this.#open) return;
    this.#open = false;
    this.#incarnation.connections.delete(this);
    this.#session.close();
  }

  #schedule(fn: () => void): void {
    // Zero delay: the frame already travelled; the broker's node runs it (or holds it).
    this.#scheduler.after(0, fn, this.#incarnation.node);
  }
}

/** A backend that records each request as open on the incarnation (for the settle deadline). */
function trackedBackend(scheduler: Scheduler, incarnation: Incarnation): QueueBackend {
  let next = 1;
  return {
    request<O extends Operation>(op: O, options?: RequestOptions): Promise<OperationResult<O>> {
      const call: OpenCall = {
        id: next++,
        op,
        receivedAt: scheduler.now,
        incarnation,
        fail: () => incarnation.calls.delete(call),
      };
      incarnation.calls.add(call);
      return incarnation.broker.request(op, options).finally(() => incarnation.calls.delete(call));
    },
    leaderInfo: () => incarnation.broker.leaderInfo(),
  };
}
