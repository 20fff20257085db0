/**
 * The outbound side of one JSON-RPC connection: replies and notifications,
 * sent only to a peer that reads what it is sent. Above `pauseDeliveryBytes`
 * unread the peer is logged as lagging (push delivery stops, see
 * `dispatcher.ts`); above `maxBufferedBytes` the connection is closed
 * (1013) instead of sent more.
 *
 * @module
 */
import { errorToWire, type WireError } from "../errors.ts";
import type { RpcNotification, RpcReply } from "../protocol/wire.ts";
import { CLOSE_TRY_AGAIN_LATER } from "./rpc_session_options.ts";

/** Options of {@linkcode RpcOutbox}. */
export interface RpcOutboxOptions {
  /** Sends one text frame; returns `false` when the socket is no longer open. */
  send: (frame: string) => boolean;
  /** Bytes sent but not yet written to the network. */
  bufferedAmount: () => number;
  /** Unread bytes above which the peer is lagging. */
  pauseDeliveryBytes: number;
  /** Unread bytes above which the connection is closed instead of sent more. */
  maxBufferedBytes: number;
  /** Whether the connection is closed (nothing is sent then). */
  closed: () => boolean;
  /** Closes the connection with a code and a reason. */
  fail: (code: number, reason: string) => void;
  /** Log sink. */
  log: (line: string) => void;
  /** The connection's current name for logs. */
  label: () => string;
}

/** Sends a connection's replies and notifications, with back-pressure on slow readers. */
export class RpcOutbox {
  #options: RpcOutboxOptions;
  #lagging = false;

  /** Creates the outbox of one connection. */
  constructor(options: RpcOutboxOptions) {
    this.#options = options;
  }

  /** Sends a notification; returns whether it was sent. */
  notify(notification: RpcNotification): boolean {
    if (this.#options.closed() || !this.#roomToSend()) return false;
    return this.#send(notification);
  }

  /** Sends a result (when `error` is undefined) or an error reply; returns whether it was sent. */
  reply(id: number | string | null, error: unknown, result?: unknown): boolean {
    if (this.#options.closed() || !this.#roomToSend()) return false;
    let frame: RpcReply;
    if (error === undefined) {
      frame = { id: id as number | string, result: result ?? null };
    } else {
      const wire: WireError = errorToWire(error);
      frame = { id, error: wire };
    }
    return this.#send(frame);
  }

  #send(frame: RpcReply | RpcNotification): boolean {
    try {
      return this.#options.send(JSON.stringify(frame));
    } catch (cause) {
      this.#options.log(
        `${this.#options.label()}: send failed: ${cause instanceof Error ? cause.message : cause}`,
      );
      return false;
    }
  }

  /** `false` (and the connection closed) when the peer has not read what it was sent. */
  #roomToSend(): boolean {
    const { bufferedAmount, pauseDeliveryBytes, maxBufferedBytes, log } = this.#options;
    const label = this.#options.label();
    const buffered = bufferedAmount();
    const lagging = buffered > pauseDeliveryBytes;
    if (lagging !== this.#lagging) {
      this.#lagging = lagging;
      log(
        lagging
          ? `${label}: not reading: ${buffered} bytes unread, no jobs pushed to it until it catches up`
          : `${label}: reading again`,
      );
    }
    if (buffered <= maxBufferedBytes) return true;
    log(`${label}: closing a slow consumer: ${buffered} bytes unread`);
    this.#options.fail(
      CLOSE_TRY_AGAIN_LATER,
      `slow consumer: more than ${maxBufferedBytes} bytes sent and not read`,
    );
    return false;
  }
}
