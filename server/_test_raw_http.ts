/**
 * Raw HTTP/1.1 over TCP for tests that must send headers `fetch` and
 * `WebSocket` will not let them forge (`Host`, `Origin` on an upgrade).
 *
 * @module
 */

/** A parsed response head (and whatever body arrived before the server closed). */
export interface RawResponse {
  /** The status code. */
  status: number;
  /** Header names in lower case. */
  headers: Headers;
  /** The body text received (the connection is closed after the response). */
  body: string;
}

/** Options of {@linkcode rawRequest}. */
export interface RawRequestOptions {
  /** Method (default GET). */
  method?: string;
  /** Path (default `/`). */
  path?: string;
  /** Headers, sent as given (a `Host` must be included by the caller). */
  headers?: Record<string, string>;
  /** Body text. */
  body?: string;
}

/**
 * Sends one request to `addr` and reads the response head. For a `101`
 * upgrade the socket is closed right after the head.
 */
export async function rawRequest(
  addr: { hostname: string; port: number },
  options: RawRequestOptions = {},
): Promise<RawResponse> {
  const conn = await Deno.connect({ hostname: addr.hostname, port: addr.port });
  try {
    const lines = [`${options.method ?? "GET"} ${options.path ?? "/"} HTTP/1.1`];
    const headers: Record<string, string> = { connection: "close", ...options.headers };
    if (options.body !== undefined) {
      headers["content-length"] = String(new TextEncoder().encode(options.body).length);
    }
    for (const [name, value] of Object.entries(headers)) lines.push(`${name}: ${value}`);
    const text = lines.join("\r\n") + "\r\n\r\n" + (options.body ?? "");
    await conn.write(new TextEncoder().encode(text));
    const decoder = new TextDecoder();
    let received = "";
    const buffer = new Uint8Array(65536);
    let head: { status: number; headers: Headers; rest: string } | undefined;
    while (true) {
      const n = await conn.read(buffer);
      if (n === null) break;
      received += decoder.decode(buffer.subarray(0, n), { stream: true });
      if (head === undefined) {
        const end = received.indexOf("\r\n\r\n");
        if (end < 0) continue;
        const [statusLine, ...headerLines] = received.slice(0, end).split("\r\n");
        const status = Number(statusLine.split(" ")[1]);
        const parsed = new Headers();
        for (const line of headerLines) {
          const colon = line.indexOf(":");
          parsed.append(line.slice(0, colon).trim(), line.slice(colon + 1).trim());
        }
        head = { status, headers: parsed, rest: received.slice(end + 4) };
        if (status === 101) break;
      }
      // Stop at the end of the body: the server may keep the connection open.
      const body = received.slice(received.indexOf("\r\n\r\n") + 4);
      const length = head.headers.get("content-length");
      if (length !== null && new TextEncoder().encode(body).length >= Number(length)) break;
      if (head.headers.get("transfer-encoding") === "chunked" && body.endsWith("0\r\n\r\n")) {
        break;
      }
    }
    if (head === undefined) throw new Error(`no response head: ${JSON.stringify(received)}`);
    const body = received.slice(received.indexOf("\r\n\r\n") + 4);
    return { status: head.status, headers: head.headers, body };
  } finally {
    try {
      conn.close();
    } catch {
      // already closed
    }
  }
}

/** Headers of a WebSocket upgrade request (add `host`, `origin`, … as needed). */
export const UPGRADE_HEADERS: Record<string, string> = {
  upgrade: "websocket",
  connection: "Upgrade",
  "sec-websocket-key": "dGhlIHNhbXBsZSBub25jZQ==",
  "sec-websocket-version": "13",
};

/** A WebSocket client over raw TCP that sends frames and never reads: a consumer that does not keep up. */
export interface StalledWebSocket {
  /** Sends one masked text frame. */
  send(text: string): Promise<void>;
  /** Closes the TCP connection. */
  close(): void;
}

/** Opens a WebSocket to `path` over raw TCP, reads only the handshake, then never reads again. */
export async function openStalledWebSocket(
  addr: { hostname: string; port: number },
  path = "/ws",
): Promise<StalledWebSocket> {
  const conn = await Deno.connect({ hostname: addr.hostname, port: addr.port });
  const headers = { host: `${addr.hostname}:${addr.port}`, ...UPGRADE_HEADERS };
  const head = [`GET ${path} HTTP/1.1`, ...Object.entries(headers).map(([k, v]) => `${k}: ${v}`)];
  await conn.write(new TextEncoder().encode(head.join("\r\n") + "\r\n\r\n"));
  // Read the 101 response head only (byte by byte, so no frame after it is consumed).
  let received = "";
  const one = new Uint8Array(1);
  while (!received.endsWith("\r\n\r\n")) {
    if (await conn.read(one) === null) throw new Error("closed during the handshake");
    received += String.fromCharCode(one[0]);
  }
  if (!received.startsWith("HTTP/1.1 101")) throw new Error(`upgrade refused: ${received}`);
  return {
    async send(text: string): Promise<void> {
      const payload = new TextEncoder().encode(text);
      const length = payload.length;
      const header = length < 126
        ? [0x81, 0x80 | length]
        : length < 65536
        ? [0x81, 0x80 | 126, length >> 8, length & 0xff]
        : [0x81, 0x80 | 127, 0, 0, 0, 0, ...[24, 16, 8, 0].map((s) => (length >>> s) & 0xff)];
      const mask = crypto.getRandomValues(new Uint8Array(4));
      const frame = new Uint8Array(header.length + 4 + length);
      frame.set(header, 0);
      frame.set(mask, header.length);
      for (let i = 0; i < length; i++) frame[header.length + 4 + i] = payload[i] ^ mask[i & 3];
      let written = 0;
      while (written < frame.length) written += await conn.write(frame.subarray(written));
    },
    close(): void {
      try {
        conn.close();
      } catch {
        // already closed
      }
    },
  };
}
