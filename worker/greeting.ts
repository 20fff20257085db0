/**
 * Greeting a broker on a fresh connection: {@linkcode sayHello} sends
 * `hello` (protocol version, token, client id), and {@linkcode helloVerdict}
 * reads the reply's leader hint — keep the connection, follow the leader it
 * names, or note that it names a leader that just stopped answering.
 *
 * @module
 */
import { type HelloParams, type HelloResult, PROTOCOL_VERSION } from "../protocol/wire.ts";
import type { BrokerUrls } from "./broker_urls.ts";
import type { Connection } from "./connection.ts";
import type { Requests } from "./requests.ts";

/** Options of {@linkcode sayHello}. */
export interface SayHelloOptions {
  /** Sends the request. */
  requests: Requests;
  /** The fresh connection. */
  conn: Connection;
  /** Bearer token. */
  token?: string;
  /** Name of this client. */
  clientId?: string;
  /** Deadline of the reply, ms. */
  timeoutMs: number;
  /** Ask for an empty batch after each turn that read this client's frames (see `HelloParams.ack`). */
  ack?: boolean;
}

/** Sends `hello` on `conn` and resolves with the broker's reply. */
export async function sayHello(options: SayHelloOptions): Promise<HelloResult> {
  const { requests, conn, token, clientId, timeoutMs } = options;
  const params: HelloParams = { protocol: PROTOCOL_VERSION };
  if (options.ack) params.ack = true;
  if (token !== undefined) params.token = token;
  if (clientId !== undefined) params.clientId = clientId;
  return await requests.callOn(conn, "hello", params, timeoutMs) as HelloResult;
}

/** Largest batch frame a client sends, bytes. */
const MAX_BATCH_BYTES = 256 * 1024;

/**
 * Largest frame Deno's built-in `WebSocket` writes in one write. It leaves
 * Nagle's algorithm on, so the second write of a bigger frame waits for the
 * broker's delayed ACK (about 40 ms on Linux).
 */
export const ONE_WRITE_FRAME_BYTES = 1024;

/** Options of {@linkcode batchBytes}. */
export interface BatchBytesOptions {
  /** Keep batches within {@linkcode ONE_WRITE_FRAME_BYTES} (Deno's built-in `WebSocket`). */
  smallFrames?: boolean;
}

/**
 * The largest batch frame a `hello` reply allows, bytes: 0 (no batches) from
 * a protocol-1 broker; else the broker's frame limit, at most 256 KiB (1 KiB
 * with `smallFrames`).
 */
export function batchBytes(hello: HelloResult, options: BatchBytesOptions = {}): number {
  if (typeof hello?.protocol !== "number" || hello.protocol < 2) return 0;
  let limit = MAX_BATCH_BYTES;
  if (typeof hello.maxFrameBytes === "number" && hello.maxFrameBytes > 0) {
    limit = Math.min(limit, hello.maxFrameBytes);
  }
  if (options.smallFrames) limit = Math.min(limit, ONE_WRITE_FRAME_BYTES);
  return Math.max(1, limit);
}

/**
 * Whether `WebSocket` is Deno's built-in one, which writes frames over
 * {@linkcode ONE_WRITE_FRAME_BYTES} in two writes with Nagle's algorithm on.
 */
export function isDenoBuiltinWebSocket(WebSocket: unknown): boolean {
  const agent = globalThis.navigator?.userAgent ?? "";
  return WebSocket === globalThis.WebSocket && agent.startsWith("Deno/");
}

/** What a `hello` reply says to do with its connection. */
export type HelloVerdict =
  /** Keep it: the leader answered, or a standby named no (other, usable) leader, or no hop is left. */
  | { kind: "use" }
  /** A standby named another leader: connect there instead. */
  | { kind: "follow"; leaderUrl: string }
  /** A standby named the leader that just stopped answering: ask again soon. */
  | { kind: "suspect-leader"; leaderUrl: string };

/** Reads the leader hint of `hello`; `canHop` says whether one more redirect is allowed. */
export function helloVerdict(hello: HelloResult, urls: BrokerUrls, canHop: boolean): HelloVerdict {
  if (
    hello?.leader === false && typeof hello.leaderUrl === "string" &&
    urls.differs(hello.leaderUrl)
  ) {
    if (urls.isSuspect(hello.leaderUrl)) {
      return { kind: "suspect-leader", leaderUrl: hello.leaderUrl };
    }
    if (canHop) return { kind: "follow", leaderUrl: hello.leaderUrl };
  }
  return { kind: "use" };
}
