/**
 * A scripted WebSocket stub of a broker, for client tests only: each request
 * frame is handed to a script that answers it (or not).
 *
 * @module
 */
import type { WireError } from "../errors.ts";
import type { RpcRequest } from "../protocol/wire.ts";

/** What a script answers: a result, an error, or nothing (no reply). */
export type StubReply = { result: unknown } | { error: WireError } | undefined;

/** One server-side connection. */
export interface StubConnection {
  /** Index among the server's connections, from 0. */
  readonly index: number;
  /** The server-side socket. */
  readonly socket: WebSocket;
  /** Requests received on this connection, in order. */
  readonly requests: RpcRequest[];
  /** The frames received on this connection, as sent (a batch frame is one entry). */
  readonly frames: string[];
  /** Sends any frame to the client. */
  send(frame: unknown): void;
  /** Drops the connection (optionally with a close code and reason). */
  close(code?: number, reason?: string): void;
}

/** Answers one request. */
export type StubScript = (
  request: RpcRequest,
  connection: StubConnection,
) => StubReply | Promise<StubReply>;

/** A running stub. */
export interface StubServer {
  /** `http://127.0.0.1:<port>` */
  readonly url: string;
  /** Every connection so far. */
  readonly connections: StubConnection[];
  /** Every request so far, across connections. */
  readonly requests: { method: string; params: unknown; connection: number }[];
  /** Closes every socket and the server. */
  close(): Promise<void>;
}

/** Replies `hello` as a leader; other methods go to `script`. */
export function leaderHello(brokerId = "stub"): StubReply {
  return { result: { brokerId, leader: true } };
}

/**
 * Starts a stub on a free port. `hello` is answered with {@linkcode leaderHello}
 * unless the script answers it (return `undefined` from `script` for hello to
 * get the default; use `{result}` / `{error}` to override).
 */
export function startStubServer(script: StubScript): StubServer {
  const connections: StubConnection[] = [];
  const requests: StubServer["requests"] = [];
  const closed: Promise<void>[] = [];
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, (req) => {
    const url = new URL(req.url);
    if (url.pathname !== "/ws") return new Response("not found", { status: 404 });
    const { socket, response } = Deno.upgradeWebSocket(req);
    const connection: StubConnection = {
      index: connections.length,
      socket,
      requests: [],
      frames: [],
      send: (frame) => {
        if (socket.readyState === WebSocket.OPEN) socket.send(JSON.stringify(frame));
      },
      close: (code, reason) => socket.close(code, reason),
    };
    connections.push(connection);
    closed.push(new Promise((resolve) => socket.addEventListener("close", () => resolve())));
    socket.addEventListener("message", (event) => {
      connection.frames.push(event.data as string);
      const frame = JSON.parse(event.data as string) as RpcRequest | RpcRequest[];
      for (const request of Array.isArray(frame) ? frame : [frame]) {
        connection.requests.push(request);
        requests.push({
          method: request.method,
          params: request.params,
          connection: connection.index,
        });
        (async () => {
          let reply = await script(request, connection);
          if (reply === undefined && request.method === "hello") reply = leaderHello();
          if (reply !== undefined) connection.send({ id: request.id, ...reply });
        })();
      }
    });
    return response;
  });
  const { port } = server.addr as Deno.NetAddr;
  return {
    url: `http://127.0.0.1:${port}`,
    connections,
    requests,
    close: async () => {
      for (const connection of connections) {
        if (connection.socket.readyState <= WebSocket.OPEN) connection.socket.close();
      }
      await Promise.all(closed);
      await server.shutdown();
    },
  };
}

/** Runs `run` against a stub server answering with `script`, and closes the stub afterwards. */
export async function withStub(
  script: StubScript,
  run: (server: StubServer) => Promise<void>,
): Promise<void> {
  const server = startStubServer(script);
  try {
    await run(server);
  } finally {
    await server.close();
  }
}

/** Polls `predicate` every few ms until it holds; fails after `timeoutMs`. */
export async function waitUntil(
  predicate: () => boolean,
  message = "condition",
  timeoutMs = 3000,
): Promise<void> {
  const start = Date.now();
  while (!predicate()) {
    if (Date.now() - start > timeoutMs) throw new Error(`timed out waiting for ${message}`);
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
}
