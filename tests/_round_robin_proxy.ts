/**
 * A tiny load balancer for the serverless tests: one loopback port in front
 * of several instances, as Deno Deploy puts one URL in front of its
 * instances. HTTP requests and WebSocket upgrades alternate between the
 * instances; an instance that refuses a connection is skipped from then on
 * (it died); an upstream WebSocket that drops closes the client's.
 *
 * @module
 */

/** A running proxy. */
export interface RoundRobinProxy extends AsyncDisposable {
  /** `http://127.0.0.1:<port>`. */
  readonly url: string;
  /** How many requests and upgrades went to each backend, by URL. */
  readonly routed: Map<string, number>;
  /** Stops listening and closes every proxied socket. */
  close(): Promise<void>;
}

/** Starts a proxy over `backends` (base URLs such as `http://127.0.0.1:1234`). */
export function startRoundRobinProxy(backends: readonly string[]): RoundRobinProxy {
  const alive = backends.map((url) => ({ url, alive: true }));
  const routed = new Map<string, number>(backends.map((url) => [url, 0]));
  const sockets = new Set<WebSocket>();
  let next = 0;

  const candidates = (): { url: string; alive: boolean }[] => {
    const out = [];
    for (let i = 0; i < alive.length; i++) {
      const backend = alive[(next + i) % alive.length];
      if (backend.alive) out.push(backend);
    }
    next = (next + 1) % alive.length;
    return out;
  };

  const connectUpstream = (url: string): Promise<WebSocket> =>
    new Promise((resolve, reject) => {
      const ws = new WebSocket(url);
      ws.binaryType = "arraybuffer";
      const timer = setTimeout(() => {
        ws.close();
        reject(new Error("upstream connect timed out"));
      }, 5000);
      ws.onopen = () => {
        clearTimeout(timer);
        resolve(ws);
      };
      ws.onerror = () => {
        clearTimeout(timer);
        reject(new Error("upstream connect failed"));
      };
    });

  async function proxyWebSocket(request: Request, path: string): Promise<Response> {
    for (const backend of candidates()) {
      let upstream: WebSocket;
      try {
        upstream = await connectUpstream(backend.url.replace(/^http/, "ws") + path);
      } catch {
        backend.alive = false;
        continue;
      }
      routed.set(backend.url, routed.get(backend.url)! + 1);
      const { socket, response } = Deno.upgradeWebSocket(request);
      socket.binaryType = "arraybuffer";
      sockets.add(socket);
      sockets.add(upstream);
      const early: (string | ArrayBuffer)[] = [];
      socket.onopen = () => {
        for (const data of early.splice(0)) socket.send(data);
      };
      upstream.onmessage = (event) => {
        if (socket.readyState === WebSocket.OPEN) socket.send(event.data);
        else if (socket.readyState === WebSocket.CONNECTING) early.push(event.data);
      };
      socket.onmessage = (event) => {
        if (upstream.readyState === WebSocket.OPEN) upstream.send(event.data);
      };
      const closeBoth = () => {
        sockets.delete(socket);
        sockets.delete(upstream);
        for (const ws of [socket, upstream]) {
          try {
            if (ws.readyState === WebSocket.OPEN) ws.close(1001, "proxy: the other side closed");
            else if (ws.readyState === WebSocket.CONNECTING) ws.onopen = () => ws.close(1001);
          } catch {
            // already closing
          }
        }
      };
      upstream.onclose = closeBoth;
      upstream.onerror = closeBoth;
      socket.onclose = closeBoth;
      socket.onerror = closeBoth;
      return response;
    }
    return new Response("no backend alive", { status: 502 });
  }

  async function proxyHttp(request: Request, path: string): Promise<Response> {
    const body = request.body === null ? undefined : await request.arrayBuffer();
    for (const backend of candidates()) {
      try {
        const response = await fetch(backend.url + path, {
          method: request.method,
          headers: request.headers,
          body,
        });
        routed.set(backend.url, routed.get(backend.url)! + 1);
        return response;
      } catch {
        backend.alive = false;
      }
    }
    return new Response("no backend alive", { status: 502 });
  }

  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, (request) => {
    const url = new URL(request.url);
    const path = url.pathname + url.search;
    if (request.headers.get("upgrade")?.toLowerCase() === "websocket") {
      return proxyWebSocket(request, path);
    }
    return proxyHttp(request, path);
  });
  const close = async () => {
    for (const ws of sockets) {
      try {
        ws.close(1001, "proxy closing");
      } catch {
        // closed
      }
    }
    await server.shutdown();
  };
  return {
    url: `http://127.0.0.1:${server.addr.port}`,
    routed,
    close,
    [Symbol.asyncDispose]: close,
  };
}
