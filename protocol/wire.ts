/**
 * The WebSocket JSON-RPC spoken between a broker server and its clients.
 *
 * Client → server request: `{id, method, params?}`; server → client reply:
 * `{id, result}` or `{id, error: {code, message, data?}}` (`id: null` when the
 * request could not be parsed far enough to read its id). The server also sends
 * notifications without an id: `{method: "deliver", params: {jobs}}` carrying
 * jobs pushed to a subscribed worker.
 *
 * Batches (protocol 2): a client frame may be a JSON array of 1 to
 * {@linkcode MAX_BATCH_REQUESTS} requests, each handled as if it came alone
 * (each gets its own reply). A client that says `protocol: 2` in `hello` may
 * get arrays of replies and notifications from the server: whatever the server
 * sends it in one turn of its event loop leaves as one frame. A client learns
 * from the `hello` reply's `protocol` whether the server takes batches; it sends
 * none before that reply. With `ack: true` in `hello` the client also gets an
 * empty batch `[]` after every turn that read its frames and sent it nothing
 * (see {@linkcode HelloParams.ack}).
 *
 * Methods:
 * - `hello` `{token?, clientId?}` → `{brokerId, leader, leaderUrl?}` — authenticates the
 *   connection when the server has a token (a token may also come as
 *   `Authorization: Bearer` on the upgrade request); must come first then. The token's role
 *   (`producer`, `worker`, `admin`) decides which methods the connection may call; others get
 *   `forbidden`.
 * - every queue {@linkcode Operation} by its `op` name, params = the operation without `op`
 *   (`push`, `claim`, `heartbeat`, `complete`, `fail`, `release`, `cancel`, `get`, `stats`);
 * - `subscribe` `{workerId, types?, credits, leaseMs?}` → `{ok: true}` — push delivery: the
 *   server sends `deliver` notifications, never more jobs than the credits granted;
 * - `credit` `{credits}` → `{ok: true}` — grants more credits (one per finished job);
 * - `unsubscribe` `{}` → `{ok: true}` — stops delivery (jobs already sent stay leased);
 * - `ping` (no params) → `{pong: true}` — an application-level keepalive (browsers cannot send
 *   WebSocket ping frames): answered at once, before authentication too, without touching the
 *   broker, so a missing reply means the connection or the server is dead or frozen.
 *
 * Pure module: no `Deno.*`, no `node:` imports.
 *
 * @module
 */
import type { WireError } from "../errors.ts";
import type { ClaimedJob } from "./operations.ts";
import type { JobEvent } from "./backend.ts";

/** Largest WebSocket frame a server accepts by default (bytes). */
export const DEFAULT_MAX_FRAME_BYTES = 1024 * 1024;

/** The current protocol version, sent in `hello` (2: batch frames, see the module doc). */
export const PROTOCOL_VERSION = 2;

/** Most requests one batch frame may carry. */
export const MAX_BATCH_REQUESTS = 1000;

/** A request frame. */
export interface RpcRequest {
  /** Correlates the reply; unique per connection while pending. */
  id: number | string;
  /** Method name. */
  method: string;
  /** Method parameters. */
  params?: unknown;
}

/** A reply frame. */
export type RpcReply =
  | { id: number | string; result: unknown }
  | { id: number | string | null; error: WireError };

/** A server-initiated notification (no id). */
export type RpcNotification =
  | {
    /** Push delivery of claimed jobs (after `subscribe`). */
    method: "deliver";
    /** The pushed jobs. */
    params: { jobs: ClaimedJob[] };
  }
  | {
    /** A job event (after `watch`). */
    method: "job";
    /** What happened. */
    params: JobEvent;
  };

/** Parameters of `hello`. */
export interface HelloParams {
  /** Bearer token, when the server requires one. */
  token?: string;
  /** Free-form client name for logs. */
  clientId?: string;
  /** The client's protocol version. */
  protocol?: number;
  /**
   * Protocol 2: after each event-loop turn that read frames from this client
   * and sent it nothing, the server sends an empty batch `[]`. For a client
   * whose socket holds small writes back until the peer sends something
   * (Nagle's algorithm, as in Deno's built-in WebSocket): the reply carries
   * the TCP acknowledgement that lets its next frames go at once.
   */
  ack?: boolean;
}

/** Result of `hello`. */
export interface HelloResult {
  /** The answering broker's id. */
  brokerId: string;
  /** Whether the answering broker is the leader. */
  leader: boolean;
  /** The leader's advertised URL, when known. */
  leaderUrl?: string;
  /** The server's protocol version (absent: 1, no batch frames). */
  protocol?: number;
  /** Largest frame the server accepts, bytes (absent: unknown). */
  maxFrameBytes?: number;
}

/** Parameters of `subscribe`. */
export interface SubscribeParams {
  /** The worker's id (lease holder name). */
  workerId: string;
  /** Only these job types; all when absent. */
  types?: string[];
  /** How many jobs the worker can take now. */
  credits: number;
  /** Lease duration for delivered jobs, ms. */
  leaseMs?: number;
}

/** Parameters of `credit`. */
export interface CreditParams {
  /** Additional credits. */
  credits: number;
}

/** Parameters of `watch`: job events of these jobs or types (all when both are absent). */
export interface WatchParams {
  /** Job ids. */
  ids?: string[];
  /** Job types. */
  types?: string[];
}
