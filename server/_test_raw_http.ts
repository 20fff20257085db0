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
