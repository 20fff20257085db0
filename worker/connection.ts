/**
 * One greeted WebSocket to a broker ({@linkcode Connection}): sends requests,
 * correlates replies by id, rebuilds error replies as typed errors, hands
 * notifications on, and fails whatever still waits when the socket closes.
 * Once batching is on ({@linkcode Connection.batchRequests}), the requests
 * made in one turn leave as one batch frame, and batch frames from the broker
 * are read element by element.
 * Also {@linkcode openConnection} (bounded by a timeout) and
 * {@linkcode websocketUrl}.
 *
 * @module
 */
import {
  DisconnectedError,
  errorFromWire,
  InvalidError,
  type OsqueueError,
  UnavailableError,
  type WireError,
} from "../errors.ts";
import { FrameBatcher } from "../protocol/frame_batcher.ts";
import { defaultTimers, type Timers, type WebSocketConstructor } from "./client_options.ts";

/** How long closing waits for the closing handshake, ms. */
const CLOSE_WAIT_MS = 1_000;

/** Close code the client reports for a connection it gave up on (never sent on the wire). */
const CLOSE_ABANDONED = 4999;

/** The error of a request made after the client closed. */
export const closedError = (): OsqueueError => new DisconnectedError("client closed");

function isWireError(value: unknown): value is WireError {
  return typeof value === "object" && value !== null &&
    typeof (value as WireError).code === "string" &&
    typeof (value as WireError).message === "string";
}

/**
 * Turns a broker base URL (`http(s)://host[:port][/prefix]` or `ws(s)://…`)
 * into its WebSocket endpoint `ws(s)://host[:port][/prefix]/ws`.
 */
export function websocketUrl(baseUrl: string): string {
  let url: URL;
  try {
    url = new URL(baseUrl);
  } catch (error) {
    throw new InvalidError(`invalid broker URL: ${baseUrl}`, { cause: error });
  }
  if (url.protocol === "http:") url.protocol = "ws:";
  else if (url.protocol === "https:") url.protocol = "wss:";
  else if (url.protocol !== "ws:" && url.protocol !== "wss:") {
    throw new InvalidError(`unsupported broker URL scheme: ${url.protocol}`);
  }
  const path = url.pathname.replace(/\/+$/, "");
  url.pathname = path.endsWith("/ws") ? path : `${path}/ws`;
  url.hash = "";
  return url.toString();
}

interface Pending {
  method: string;
  resolve: (value: unknown) => void;
  reject: (error: OsqueueError) => void;
}

/** UTF-8 length of `text`. */
export function utf8Length(text: string): number {
  let bytes = text.length;
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (code < 0x80) continue;
    if (code < 0x800) bytes += 1;
    else if (code >= 0xd800 && code <= 0xdbff && i + 1 < text.length) {
      bytes += 2; // a surrogate pair: 4 bytes for its 2 units
      i++;
    } else bytes += 2;
  }
  return bytes;
}

/** Receives a notification frame (`deliver`, `job`) that arrived on a connection. */
export type NotificationHandler = (conn: Connection, method: string, params: unknown) => void;

/** Hears that a connection closed, with the close code and reason. */
export type CloseHandler = (conn: Connection, code: number, reason: string) => void;

/** One open, greeted WebSocket and the requests waiting on it. */
export class Connection {
  readonly pending = new Map<number, Pending>();
  closed = false;
  /** When a frame last arrived (client clock). */
  lastReceived: number;
  #retiring = false;
  /** Joins a turn's requests once the broker reads batch frames. */
  #batcher: FrameBatcher<{ id: number; method: string }> | undefined;
  readonly #closedPromise: Promise<void>;
  #resolveClosed!: () => void;
  readonly #onClose: CloseHandler;

  constructor(
    readonly ws: WebSocket,
    readonly url: string,
    readonly clock: () => number,
    onNotification: NotificationHandler,
    onClose: CloseHandler,
    readonly timers: Timers = defaultTimers,
  ) {
    this.lastReceived = clock();
    this.#onClose = onClose;
    ws.addEventListener("message", (event) => {
      this.lastReceived = clock();
      // Nothing a broker (or whatever answers on this URL) sends may crash the
      // client: a frame that cannot be handled is dropped.
      try {
        this.#handleFrame(event.data, onNotification);
      } catch {
        // dropped
      }
    });
    this.#closedPromise = new Promise((resolve) => (this.#resolveClosed = resolve));
    ws.addEventListener("close", (event) => this.#finish(event.code, event.reason ?? ""));
  }

  /** Marks the connection closed (once): fails waiting requests, reports the close. */
  #finish(code: number, reason: string): void {
    if (this.closed) return;
    this.closed = true;
    for (const [id, pending] of this.pending) {
      this.pending.delete(id);
      pending.reject(
        new DisconnectedError(
          `connection to ${this.url} lost before ${pending.method} was answered` +
            (code === CLOSE_ABANDONED ? ` (${reason})` : ""),
        ),
      );
    }
    this.#onClose(this, code, reason);
    this.#resolveClosed();
  }

  /**
   * Gives the connection up at once, without waiting for a closing handshake
   * a frozen peer would never answer: waiting requests fail with
   * `disconnected` now, and the socket is closed in the background.
   */
  abandon(reason: string): void {
    try {
      this.ws.close(1000, "client gave up on this connection");
    } catch {
      // already closing
    }
    this.#finish(CLOSE_ABANDONED, reason);
  }

  /**
   * From now on (the broker said it reads batch frames), the requests made in
   * one turn leave together at the end of the turn as one JSON array of at
   * most `maxBytes` (a request that would not fit starts the next batch; one
   * bigger than that goes alone).
   */
  batchRequests(maxBytes: number): void {
    this.#batcher ??= new FrameBatcher({
      maxSize: Math.max(1, maxBytes),
      size: utf8Length,
      send: (text, requests) => this.#sendNow(requests, text),
    });
  }

  /** Sends a request; its promise settles with the reply. */
  call(id: number, method: string, params: unknown): Promise<unknown> {
    return new Promise((resolve, reject) => {
      if (this.closed || this.ws.readyState !== 1 /* OPEN */) {
        reject(new DisconnectedError(`connection to ${this.url} is closed`));
        return;
      }
      let text: string;
      try {
        text = JSON.stringify(params === undefined ? { id, method } : { id, method, params });
      } catch (error) {
        reject(new DisconnectedError(`cannot send ${method}`, { cause: error }));
        return;
      }
      this.pending.set(id, { method, resolve, reject });
      if (this.#batcher === undefined) return this.#sendNow([{ id, method }], text);
      this.#batcher.add(text, { id, method });
    });
  }

  /** Sends `text`; when that fails, the requests it carries fail with `disconnected`. */
  #sendNow(requests: { id: number; method: string }[], text: string): void {
    try {
      if (this.closed || this.ws.readyState !== 1 /* OPEN */) {
        throw new Error(`connection to ${this.url} is closed`);
      }
      this.ws.send(text);
    } catch (error) {
      for (const { id, method } of requests) {
        const pending = this.pending.get(id);
        if (pending === undefined) continue;
        this.pending.delete(id);
        pending.reject(new DisconnectedError(`cannot send ${method}`, { cause: error }));
      }
    }
  }

  /** Stops waiting for a reply (after a timeout). */
  forget(id: number): void {
    this.pending.delete(id);
    this.#maybeFinishRetire();
  }

  /** Closes the socket once no request waits on it any more. */
  retire(): void {
    this.#retiring = true;
    this.#maybeFinishRetire();
  }

  #handleFrame(data: unknown, onNotification: NotificationHandler): void {
    if (typeof data !== "string") return;
    let frame: unknown;
    try {
      frame = JSON.parse(data);
    } catch {
      return;
    }
    if (Array.isArray(frame)) {
      for (const item of frame) {
        try {
          this.#handleMessage(item, onNotification);
        } catch {
          // dropped, like a frame of its own
        }
      }
    } else {
      this.#handleMessage(frame, onNotification);
    }
  }

  /** Handles one reply or notification (alone in its frame, or one of a batch). */
  #handleMessage(frame: unknown, onNotification: NotificationHandler): void {
    if (typeof frame !== "object" || frame === null) return;
    const { id, method, params, result, error } = frame as Record<string, unknown>;
    if (typeof id === "number") {
      const pending = this.pending.get(id);
      if (pending === undefined) return;
      this.pending.delete(id);
      if (isWireError(error)) pending.reject(errorFromWire(error));
      else pending.resolve(result);
      this.#maybeFinishRetire();
    } else if ((id === undefined || id === null) && typeof method === "string") {
      onNotification(this, method, params);
    }
  }

  #maybeFinishRetire(): void {
    if (this.#retiring && this.pending.size === 0) this.close(this.timers);
  }

  /** Closes the socket; resolves once it is closed (or after a short wait). */
  close(timers: Timers = defaultTimers): Promise<void> {
    if (!this.closed) {
      try {
        this.ws.close(1000, "client closing");
      } catch {
        // already closing
      }
    }
    let handle: unknown;
    const timeout = new Promise<void>((resolve) => {
      handle = timers.setTimeout(resolve, CLOSE_WAIT_MS);
    });
    return Promise.race([this.#closedPromise, timeout]).finally(() => timers.clearTimeout(handle));
  }
}

/** Options of {@linkcode openConnection}. */
export interface OpenConnectionOptions {
  /** The WebSocket endpoint (`ws(s)://…/ws`). */
  url: string;
  /** The `WebSocket` constructor. */
  WebSocket: WebSocketConstructor;
  /** Current time, epoch ms. */
  clock: () => number;
  /** Timer functions. */
  timers: Timers;
  /** Opening longer than this fails with `unavailable`, ms. */
  connectTimeoutMs: number;
  /** Told of the socket while it opens (`opening` true) and once it opened or failed (false). */
  onOpening: (ws: WebSocket, opening: boolean) => void;
  /** Told of the connection once open, before the promise resolves. */
  onOpened: (conn: Connection) => void;
  /** Receives the connection's notifications. */
  onNotification: NotificationHandler;
  /** Hears the connection close. */
  onClose: CloseHandler;
}

/** Opens a WebSocket and wraps it once open; fails with `unavailable` when it cannot. */
export function openConnection(options: OpenConnectionOptions): Promise<Connection> {
  const { url, timers } = options;
  return new Promise((resolve, reject) => {
    let ws: WebSocket;
    try {
      ws = new options.WebSocket(url);
    } catch (error) {
      reject(new InvalidError(`cannot open WebSocket to ${url}`, { cause: error }));
      return;
    }
    options.onOpening(ws, true);
    const cleanup = () => {
      timers.clearTimeout(handle);
      ws.removeEventListener("open", onOpen);
      ws.removeEventListener("close", onFail);
      options.onOpening(ws, false);
    };
    const onOpen = () => {
      cleanup();
      const conn = new Connection(
        ws,
        url,
        options.clock,
        options.onNotification,
        options.onClose,
        timers,
      );
      options.onOpened(conn);
      resolve(conn);
    };
    const onFail = () => {
      cleanup();
      reject(new UnavailableError(`cannot connect to ${url}`));
    };
    const handle = timers.setTimeout(() => {
      cleanup();
      try {
        ws.close();
      } catch {
        // not open yet
      }
      reject(new UnavailableError(`connecting to ${url} timed out`));
    }, options.connectTimeoutMs);
    ws.addEventListener("open", onOpen);
    ws.addEventListener("close", onFail);
    // "error" is always followed by "close"; listen so runtimes do not report it unhandled.
    ws.addEventListener("error", () => {});
  });
}
