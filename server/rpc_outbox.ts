/**
 * The outbound side of one JSON-RPC connection: replies and notifications,
 * sent only to a peer that reads what it is sent. Above `pauseDeliveryBytes`
 * unread the peer is logged as lagging (push delivery stops, see
 * `dispatcher.ts`); above `maxBufferedBytes` the connection is closed
 * (1013) instead of sent more. Once the peer said it reads batch frames
 * ({@linkcode RpcOutbox.batchFrames}), what is sent in one turn of the event
 * loop leaves as one JSON array frame (split at a size limit).
 *
 * @module
 */
import { errorToWire, type WireError } from "../errors.ts";
import type { RpcNotification, RpcReply } from "../protocol/wire.ts";
import { FrameBatcher } from "../protocol/frame_batcher.ts";
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
  /** Joins a turn's frames once the peer reads batch frames; each carries what to do if it cannot be sent. */
  #batcher: FrameBatcher<(() => void) | undefined> | undefined;

  /** Creates the outbox of one connection. */
  constructor(options: RpcOutboxOptions) {
    this.#options = options;
  }

  /**
   * From now on, frames sent in one turn leave together at the end of the turn
   * as a JSON array, in order; a frame that would take a batch over
   * `maxChars` (UTF-16 units of its text) starts the next one.
   */
  batchFrames(maxChars: number): void {
    this.#batcher ??= new FrameBatcher({
      maxSize: Math.max(1, maxChars),
      size: (text) => text.length,
      send: (text, dropped) => {
        if (this.#options.closed() || !this.#sendText(text)) {
          for (const drop of dropped) drop?.();
        }
      },
    });
  }

  /**
   * Makes sure a frame leaves at the end of this turn (batching only): an
   * empty batch `[]` when nothing else is sent. Its TCP segment carries the
   * acknowledgement a Nagle-bound peer waits for before it sends more.
   */
  nudge(): void {
    if (!this.#options.closed()) this.#batcher?.nudge();
  }

  /**
   * Sends a notification; returns whether it was sent (or queued for this
   * turn's batch). `onDropped`: as for {@linkcode RpcOutbox.reply}.
   */
  notify(notification: RpcNotification, onDropped?: () => void): boolean {
    if (this.#options.closed() || !this.#roomToSend()) return false;
    return this.#send(notification, onDropped);
  }

  /**
   * Sends a result (when `error` is undefined) or an error reply; returns
   * whether it was sent (or queued for this turn's batch). `onDropped` is
   * called when a queued reply could not be sent after all (the socket closed
   * in the same turn).
   */
  reply(
    id: number | string | null,
    error: unknown,
    result?: unknown,
    onDropped?: () => void,
  ): boolean {
    if (this.#options.closed() || !this.#roomToSend()) return false;
    let frame: RpcReply;
    if (error === undefined) {
      frame = { id: id as number | string, result: result ?? null };
    } else {
      const wire: WireError = errorToWire(error);
      frame = { id, error: wire };
    }
    return this.#send(frame, onDropped);
  }

  #send(frame: RpcReply | RpcNotification, onDropped?: () => void): boolean {
    let text: string;
    try {
      text = JSON.stringify(frame);
    } catch (cause) {
      this.#options.log(`${this.#options.label()}: cannot encode a frame: ${String(cause)}`);
      return false;
    }
    if (this.#batcher === undefined) return this.#sendText(text);
    this.#batcher.add(text, onDropped);
    return true;
  }

  #sendText(text: string): boolean {
    try {
      return this.#options.send(text);
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
