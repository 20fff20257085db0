/**
 * {@linkcode TcpWebSocket}: a WebSocket client for Deno over `Deno.connect`
 * with Nagle's algorithm off, for the client's `WebSocket` option.
 *
 * Deno's built-in `WebSocket` leaves Nagle's algorithm on (`TCP_NODELAY` 0)
 * and writes a frame over 1 KiB as two writes. So a frame over 1 KiB, or a
 * second frame sent before the broker sent anything back, waits for the
 * broker's delayed ACK: about 40 ms on Linux, per request. Browsers turn
 * Nagle off, and so does this class. It speaks RFC 6455 without extensions:
 * text and binary messages, fragmented messages from the server, ping/pong,
 * the closing handshake; `wss:` through `Deno.startTls`.
 *
 * Deno only: it is not reachable from `worker/mod.ts`, which stays
 * web-standard.
 *
 * @example
 * ```ts ignore
 * import { connectClient } from "@osqueue/osqueue/worker";
 * import { TcpWebSocket } from "@osqueue/osqueue/worker/tcp";
 *
 * const client = connectClient({ url: "http://127.0.0.1:8080", WebSocket: TcpWebSocket });
 * ```
 *
 * @module
 */

const GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
/** Largest message accepted from the server, bytes (a bigger one closes with 1009). */
const MAX_MESSAGE_BYTES = 64 * 1024 * 1024;
/** Largest HTTP response head of the opening handshake, bytes. */
const MAX_HANDSHAKE_BYTES = 16 * 1024;
/** How long the closing handshake may take before the TCP connection is dropped, ms. */
const CLOSE_TIMEOUT_MS = 5_000;

/** A TCP (or TLS) connection as this class uses it. */
export interface TcpConnection {
  /** Reads into `buffer`; `null` at end of stream. */
  read(buffer: Uint8Array): Promise<number | null>;
  /** Writes some of `data`; resolves with how much. */
  write(data: Uint8Array): Promise<number>;
  /** Closes the connection. */
  close(): void;
}

/** Options of {@linkcode TcpWebSocket}. */
export interface TcpWebSocketOptions {
  /**
   * Opens the connection (default: `Deno.connect` with `TCP_NODELAY` on, and
   * `Deno.startTls` for `wss:`).
   */
  connect?: (url: URL) => Promise<TcpConnection>;
  /** Extra trusted CA certificates (PEM) for `wss:` (the default `connect` only). */
  caCerts?: string[];
}

/** Opens a TCP connection with Nagle's algorithm off (TLS on top for `wss:`). */
async function connectNoDelay(url: URL, caCerts?: string[]): Promise<TcpConnection> {
  const secure = url.protocol === "wss:";
  const port = url.port === "" ? (secure ? 443 : 80) : Number(url.port);
  const hostname = url.hostname.replace(/^\[(.*)\]$/, "$1");
  const tcp = await Deno.connect({ hostname, port });
  tcp.setNoDelay(true);
  if (!secure) return tcp;
  return await Deno.startTls(tcp, caCerts === undefined ? { hostname } : { hostname, caCerts });
}

function base64(bytes: Uint8Array): string {
  let text = "";
  for (const byte of bytes) text += String.fromCharCode(byte);
  return btoa(text);
}

async function acceptKey(key: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-1", new TextEncoder().encode(key + GUID));
  return base64(new Uint8Array(digest));
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  if (a.length === 0) return b;
  const joined = new Uint8Array(a.length + b.length);
  joined.set(a);
  joined.set(b, a.length);
  return joined;
}

/** One frame as read from the server. */
interface Frame {
  fin: boolean;
  opcode: number;
  payload: Uint8Array;
}

/** A protocol violation: the connection closes with `code`. */
class ProtocolFailure extends Error {
  constructor(readonly code: number, message: string) {
    super(message);
  }
}

/**
 * Reads the first frame from `buffer`: the frame and the bytes it took, or
 * `undefined` when the buffer does not hold a whole frame yet.
 */
function readFrame(buffer: Uint8Array): { frame: Frame; size: number } | undefined {
  if (buffer.length < 2) return undefined;
  const fin = (buffer[0] & 0x80) !== 0;
  if ((buffer[0] & 0x70) !== 0) throw new ProtocolFailure(1002, "reserved bits set");
  const opcode = buffer[0] & 0x0f;
  if ((buffer[1] & 0x80) !== 0) throw new ProtocolFailure(1002, "masked frame from the server");
  let length = buffer[1] & 0x7f;
  let offset = 2;
  if (length === 126) {
    if (buffer.length < 4) return undefined;
    length = (buffer[2] << 8) | buffer[3];
    offset = 4;
  } else if (length === 127) {
    if (buffer.length < 10) return undefined;
    const view = new DataView(buffer.buffer, buffer.byteOffset + 2, 8);
    const big = view.getBigUint64(0);
    if (big > BigInt(MAX_MESSAGE_BYTES)) throw new ProtocolFailure(1009, "message too big");
    length = Number(big);
    offset = 10;
  }
  if (length > MAX_MESSAGE_BYTES) throw new ProtocolFailure(1009, "message too big");
  if (buffer.length < offset + length) return undefined;
  return {
    frame: { fin, opcode, payload: buffer.slice(offset, offset + length) },
    size: offset + length,
  };
}

/** A masked client frame. */
function encodeFrame(opcode: number, payload: Uint8Array): Uint8Array {
  const length = payload.length;
  const head = length < 126 ? 2 : length < 65536 ? 4 : 10;
  const frame = new Uint8Array(head + 4 + length);
  frame[0] = 0x80 | opcode;
  if (length < 126) {
    frame[1] = 0x80 | length;
  } else if (length < 65536) {
    frame[1] = 0x80 | 126;
    frame[2] = length >> 8;
    frame[3] = length & 0xff;
  } else {
    frame[1] = 0x80 | 127;
    new DataView(frame.buffer).setBigUint64(2, BigInt(length));
  }
  const mask = frame.subarray(head, head + 4);
  crypto.getRandomValues(mask);
  for (let i = 0; i < length; i++) frame[head + 4 + i] = payload[i] ^ mask[i & 3];
  return frame;
}

/** The close frame payload: code (2 bytes) and UTF-8 reason. */
function closePayload(code: number | undefined, reason: string): Uint8Array {
  if (code === undefined) return new Uint8Array(0);
  const text = new TextEncoder().encode(reason);
  const payload = new Uint8Array(2 + text.length);
  payload[0] = code >> 8;
  payload[1] = code & 0xff;
  payload.set(text, 2);
  return payload;
}

/** An `on…` event handler property of a WebSocket. */
export type WebSocketHandler<E extends Event> = ((this: WebSocket, event: E) => unknown) | null;

/**
 * A `WebSocket` (the subset of the web API a client uses) over a TCP
 * connection with Nagle's algorithm off. See the module doc.
 */
export class TcpWebSocket extends EventTarget implements WebSocket {
  /** The connection is being opened. */
  static readonly CONNECTING = 0;
  /** The connection is open. */
  static readonly OPEN = 1;
  /** The closing handshake is under way. */
  static readonly CLOSING = 2;
  /** The connection is closed. */
  static readonly CLOSED = 3;
  /** See {@linkcode TcpWebSocket.CONNECTING}. */
  readonly CONNECTING = 0;
  /** See {@linkcode TcpWebSocket.OPEN}. */
  readonly OPEN = 1;
  /** See {@linkcode TcpWebSocket.CLOSING}. */
  readonly CLOSING = 2;
  /** See {@linkcode TcpWebSocket.CLOSED}. */
  readonly CLOSED = 3;

  /** The WebSocket URL. */
  readonly url: string;
  /** Always `""`: no subprotocols are negotiated. */
  readonly protocol = "";
  /** Always `""`: no extensions are negotiated. */
  readonly extensions = "";
  /** How binary messages are handed over. */
  binaryType: BinaryType = "blob";
  /** Bytes queued by `send` and not yet written to the connection. */
  bufferedAmount = 0;
  /** The connection's state (`CONNECTING` … `CLOSED`). */
  readyState = 0;
  /** Called on `open`. */
  onopen: WebSocketHandler<Event> = null;
  /** Called on `message`. */
  onmessage: WebSocketHandler<MessageEvent> = null;
  /** Called on `error`. */
  onerror: WebSocketHandler<Event> = null;
  /** Called on `close`. */
  onclose: WebSocketHandler<CloseEvent> = null;

  #conn: TcpConnection | undefined;
  #outgoing: Uint8Array[] = [];
  #writing = false;
  #fragments: Uint8Array[] = [];
  #fragmentOpcode = 0;
  #fragmentBytes = 0;
  #closeSent = false;
  #closeTimer: ReturnType<typeof setTimeout> | undefined;
  #finished = false;
  /** Called once everything queued has been written. */
  #written: (() => void)[] = [];

  /** Opens a connection to `url` (`ws:` or `wss:`). */
  constructor(url: string | URL, options: TcpWebSocketOptions = {}) {
    super();
    const parsed = new URL(url);
    if (parsed.protocol === "http:") parsed.protocol = "ws:";
    if (parsed.protocol === "https:") parsed.protocol = "wss:";
    if (parsed.protocol !== "ws:" && parsed.protocol !== "wss:") {
      throw new DOMException(`unsupported URL scheme: ${parsed.protocol}`, "SyntaxError");
    }
    if (parsed.hash !== "") throw new DOMException("URL has a fragment", "SyntaxError");
    this.url = parsed.href;
    const connect = options.connect ?? ((url: URL) => connectNoDelay(url, options.caCerts));
    this.#open(parsed, connect).catch(() => this.#fail(1006, ""));
  }

  /**
   * Sends a message; throws while still connecting, drops it once closing (as
   * browsers do). A `Blob` is refused (`TypeError`): reading it would let later
   * messages overtake it; send its `arrayBuffer()` instead.
   */
  send(data: string | ArrayBufferLike | Blob | ArrayBufferView): void {
    if (this.readyState === 0) {
      throw new DOMException("the WebSocket is still connecting", "InvalidStateError");
    }
    if (typeof data === "string") {
      this.#sendFrame(1, new TextEncoder().encode(data));
    } else if (data instanceof Blob) {
      throw new TypeError("TcpWebSocket cannot send a Blob; send its arrayBuffer() instead");
    } else if (ArrayBuffer.isView(data)) {
      this.#sendFrame(2, new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
    } else {
      this.#sendFrame(2, new Uint8Array(data));
    }
  }

  /** Starts the closing handshake (or gives up a connection still opening). */
  close(code?: number, reason = ""): void {
    if (code !== undefined && code !== 1000 && (code < 3000 || code > 4999)) {
      throw new DOMException(`invalid close code: ${code}`, "InvalidAccessError");
    }
    if (new TextEncoder().encode(reason).length > 123) {
      throw new DOMException("close reason longer than 123 bytes", "SyntaxError");
    }
    if (this.readyState >= 2) return;
    if (this.readyState === 0) {
      this.#fail(1006, "");
      return;
    }
    this.readyState = 2;
    this.#sendClose(code, reason);
  }

  async #open(url: URL, connect: (url: URL) => Promise<TcpConnection>): Promise<void> {
    const conn = await connect(url);
    this.#conn = conn;
    if (this.readyState !== 0) {
      conn.close();
      return;
    }
    const key = base64(crypto.getRandomValues(new Uint8Array(16)));
    const host = url.host;
    const request = `GET ${url.pathname}${url.search} HTTP/1.1\r\nHost: ${host}\r\n` +
      `Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: ${key}\r\n` +
      `Sec-WebSocket-Version: 13\r\n\r\n`;
    await this.#writeAll(new TextEncoder().encode(request));
    let buffer: Uint8Array = new Uint8Array(0);
    let end = -1;
    const chunk = new Uint8Array(16 * 1024);
    while (end < 0) {
      const n = await conn.read(chunk);
      if (n === null) throw new Error("connection closed during the handshake");
      buffer = concat(buffer, chunk.slice(0, n));
      end = indexOfHeadEnd(buffer);
      if (end < 0 && buffer.length > MAX_HANDSHAKE_BYTES) throw new Error("handshake too long");
    }
    const head = new TextDecoder().decode(buffer.subarray(0, end));
    const [status, ...lines] = head.split("\r\n");
    if (!/^HTTP\/1\.1 101\b/.test(status)) throw new Error(`handshake refused: ${status}`);
    const headers = new Map<string, string>();
    for (const line of lines) {
      const colon = line.indexOf(":");
      if (colon > 0) {
        headers.set(line.slice(0, colon).trim().toLowerCase(), line.slice(colon + 1).trim());
      }
    }
    if (headers.get("upgrade")?.toLowerCase() !== "websocket") {
      throw new Error("handshake: no Upgrade: websocket");
    }
    if (headers.get("sec-websocket-accept") !== await acceptKey(key)) {
      throw new Error("handshake: wrong Sec-WebSocket-Accept");
    }
    if (this.readyState !== 0) {
      conn.close();
      return;
    }
    this.readyState = 1;
    this.#emit(new Event("open"));
    this.#flush();
    await this.#readLoop(buffer.slice(end + 4), chunk);
  }

  async #readLoop(initial: Uint8Array, chunk: Uint8Array): Promise<void> {
    const conn = this.#conn!;
    let buffer = initial;
    for (;;) {
      let offset = 0;
      try {
        for (;;) {
          const read = readFrame(buffer.subarray(offset));
          if (read === undefined) break;
          offset += read.size;
          this.#handleFrame(read.frame);
          if (this.#finished) return;
        }
      } catch (error) {
        if (!(error instanceof ProtocolFailure)) throw error;
        // The server broke the protocol: say why, and drop the connection.
        this.#sendClose(error.code, error.message);
        this.readyState = 2;
        this.#whenWritten(() => this.#fail(error.code, error.message));
        return;
      }
      buffer = buffer.slice(offset);
      let n: number | null;
      try {
        n = await conn.read(chunk);
      } catch {
        n = null;
      }
      if (n === null) {
        this.#fail(1006, "");
        return;
      }
      buffer = concat(buffer, chunk.slice(0, n));
    }
  }

  #handleFrame(frame: Frame): void {
    const { opcode, payload } = frame;
    if (opcode >= 8) {
      if (!frame.fin || payload.length > 125) throw new ProtocolFailure(1002, "bad control frame");
      if (opcode === 8) return this.#receivedClose(payload);
      if (opcode === 9) return this.#sendFrame(10, payload);
      if (opcode === 10) return;
      throw new ProtocolFailure(1002, `unknown opcode ${opcode}`);
    }
    if (opcode === 0) {
      if (this.#fragmentOpcode === 0) throw new ProtocolFailure(1002, "stray continuation");
    } else if (opcode === 1 || opcode === 2) {
      if (this.#fragmentOpcode !== 0) throw new ProtocolFailure(1002, "interleaved message");
      this.#fragmentOpcode = opcode;
    } else {
      throw new ProtocolFailure(1002, `unknown opcode ${opcode}`);
    }
    this.#fragments.push(payload);
    this.#fragmentBytes += payload.length;
    if (this.#fragmentBytes > MAX_MESSAGE_BYTES) throw new ProtocolFailure(1009, "message too big");
    if (!frame.fin) return;
    const parts = this.#fragments;
    const message = parts.length === 1 ? parts[0] : parts.reduce(concat, new Uint8Array(0));
    const type = this.#fragmentOpcode;
    this.#fragments = [];
    this.#fragmentOpcode = 0;
    this.#fragmentBytes = 0;
    if (this.readyState !== 1) return;
    let data: string | ArrayBuffer | Blob;
    if (type === 1) {
      try {
        data = new TextDecoder("utf-8", { fatal: true }).decode(message);
      } catch {
        throw new ProtocolFailure(1007, "invalid UTF-8");
      }
    } else {
      const buffer = message.buffer as ArrayBuffer;
      data = this.binaryType === "arraybuffer" ? buffer : new Blob([buffer]);
    }
    this.#emit(new MessageEvent("message", { data, origin: new URL(this.url).origin }));
  }

  #receivedClose(payload: Uint8Array): void {
    let code = 1005;
    let reason = "";
    if (payload.length >= 2) {
      code = (payload[0] << 8) | payload[1];
      reason = new TextDecoder().decode(payload.subarray(2));
    }
    if (!this.#closeSent) this.#sendClose(payload.length >= 2 ? code : undefined, reason);
    this.readyState = 2;
    // The server closes the TCP connection after its close frame; stop once ours is out.
    this.#whenWritten(() => this.#finish(code, reason, true));
  }

  #sendClose(code: number | undefined, reason: string): void {
    if (this.#closeSent) return;
    this.#sendFrame(8, closePayload(code, reason), true);
    this.#closeSent = true;
    this.#closeTimer = setTimeout(() => this.#finish(1006, "", false), CLOSE_TIMEOUT_MS);
  }

  #sendFrame(opcode: number, payload: Uint8Array, evenIfClosing = false): void {
    if (this.#finished || this.#closeSent || (this.readyState !== 1 && !evenIfClosing)) return;
    const frame = encodeFrame(opcode, payload);
    this.bufferedAmount += frame.length;
    this.#outgoing.push(frame);
    // Frames sent in one turn go out in one write.
    if (this.#outgoing.length === 1 && !this.#writing) queueMicrotask(() => this.#flush());
  }

  #whenWritten(then: () => void): void {
    if (this.#outgoing.length === 0 && !this.#writing) return then();
    this.#written.push(then);
  }

  async #flush(): Promise<void> {
    if (this.#writing || this.#conn === undefined || this.readyState === 0) return;
    this.#writing = true;
    try {
      while (this.#outgoing.length > 0 && !this.#finished) {
        const frames = this.#outgoing;
        this.#outgoing = [];
        const data = frames.length === 1 ? frames[0] : frames.reduce(concat, new Uint8Array(0));
        await this.#writeAll(data);
        this.bufferedAmount -= data.length;
      }
    } catch {
      this.#fail(1006, "");
    } finally {
      this.#writing = false;
    }
    for (const then of this.#written.splice(0)) then();
  }

  async #writeAll(data: Uint8Array): Promise<void> {
    let written = 0;
    while (written < data.length) written += await this.#conn!.write(data.subarray(written));
  }

  /** Fails the connection: `error`, then `close` (not clean). */
  #fail(code: number, reason: string): void {
    if (this.#finished) return;
    this.#emit(new Event("error"));
    this.#finish(code, reason, false);
  }

  #finish(code: number, reason: string, wasClean: boolean): void {
    if (this.#finished) return;
    this.#finished = true;
    this.readyState = 3;
    if (this.#closeTimer !== undefined) clearTimeout(this.#closeTimer);
    try {
      this.#conn?.close();
    } catch {
      // already closed
    }
    this.#emit(new CloseEvent("close", { code, reason, wasClean }));
  }

  #emit(event: Event): void {
    const handler = event.type === "open"
      ? this.onopen
      : event.type === "message"
      ? this.onmessage
      : event.type === "error"
      ? this.onerror
      : this.onclose;
    this.dispatchEvent(event);
    // deno-lint-ignore no-explicit-any
    (handler as ((event: any) => unknown) | null)?.call(this, event);
  }
}

/** Index of `\r\n\r\n` in `buffer`, or -1. */
function indexOfHeadEnd(buffer: Uint8Array): number {
  for (let i = 0; i + 3 < buffer.length; i++) {
    if (buffer[i] === 13 && buffer[i + 1] === 10 && buffer[i + 2] === 13 && buffer[i + 3] === 10) {
      return i;
    }
  }
  return -1;
}
