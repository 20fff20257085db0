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

/** Text queued for the next batch frame, and what to do if it cannot be sent. */
interface Queued {
  text: string;
  onDropped: (() => void) | undefined;
}

/** Sends a connection's replies and notifications, with back-pressure on slow readers. */
export class RpcOutbox {
  #options: RpcOutboxOptions;
  #lagging = false;
  /** Largest batch frame, in UTF-16 units of its text; 0 while not batching. */
  #batchChars = 0;
  #queue: Queued[] = [];
  #queuedChars = 0;
  #flushScheduled = false;
  /** Something must leave this turn: an empty batch when nothing else does. */
  #nudged = false;

  /** Creates the outbox of one connection. */
  constructor(options: RpcOutboxOptions) {
    this.#options = options;
  }

  /**
   * From now on, frames sent in one turn leave together at the end of the turn
   * as a JSON array, in order; a batch whose text reaches `maxChars` leaves at
   * once and the next one starts.
   */
  batchFrames(maxChars: number): void {
    this.#batchChars = Math.max(1, maxChars);
  }

  /**
   * Makes sure a frame leaves at the end of this turn (batching only): an
   * empty batch `[]` when nothing else is sent. Its TCP segment carries the
   * acknowledgement a Nagle-bound peer waits for before it sends more.
   */
  nudge(): void {
    if (this.#batchChars === 0 || this.#options.closed()) return;
    this.#nudged = true;
    this.#scheduleFlush();
  }

  #scheduleFlush(): void {
    if (this.#flushScheduled) return;
    this.#flushScheduled = true;
    queueMicrotask(() => {
      this.#flushScheduled = false;
      this.#flush();
    });
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
    if (this.#batchChars === 0) return this.#sendText(text);
    // A frame that would take the batch over the limit starts the next one.
    if (this.#queuedChars + text.length + 1 > this.#batchChars) this.#flush();
    this.#scheduleFlush();
    this.#queue.push({ text, onDropped });
    this.#queuedChars += text.length + 1;
    if (this.#queuedChars >= this.#batchChars) this.#flush();
    return true;
  }

  /** Sends the queued frames: alone when there is one, else as one array. */
  #flush(): void {
    const queued = this.#queue;
    const nudged = this.#nudged;
    this.#nudged = false;
    if (queued.length === 0) {
      if (nudged && !this.#options.closed()) this.#sendText("[]");
      return;
    }
    this.#queue = [];
    this.#queuedChars = 0;
    const text = queued.length === 1
      ? queued[0].text
      : `[${queued.map((entry) => entry.text).join(",")}]`;
    if (this.#options.closed() || !this.#sendText(text)) {
      for (const entry of queued) entry.onDropped?.();
    }
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
