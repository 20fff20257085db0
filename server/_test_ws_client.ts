/**
 * A tiny WebSocket JSON-RPC client for the server tests.
 *
 * @module
 */

/** A frame the server sent, parsed. */
export type Frame = {
  id?: number | string | null;
  result?: unknown;
  error?: { code: string; message: string; data?: Record<string, unknown> };
  method?: string;
  params?: unknown;
};

/** A test client over a real `WebSocket`. */
export class TestClient {
  readonly ws: WebSocket;
  /** Every frame received, in order. */
  readonly frames: Frame[] = [];
  /** Resolves with the close event. */
  readonly closed: Promise<CloseEvent>;
  #waiters: { check: (f: Frame) => boolean; resolve: (f: Frame) => void }[] = [];
  #nextId = 1;

  private constructor(ws: WebSocket) {
    this.ws = ws;
    this.closed = new Promise((resolve) => ws.addEventListener("close", resolve, { once: true }));
    ws.addEventListener("message", (event) => {
      const frame = JSON.parse(event.data as string) as Frame;
      this.frames.push(frame);
      for (const waiter of [...this.#waiters]) {
        if (waiter.check(frame)) {
          this.#waiters = this.#waiters.filter((w) => w !== waiter);
          waiter.resolve(frame);
        }
      }
    });
  }

  /** Opens a connection to `${httpUrl}/ws`; rejects when the upgrade fails. */
  static connect(httpUrl: string, headers?: Record<string, string>): Promise<TestClient> {
    const url = httpUrl.replace(/^http/, "ws") + "/ws";
    const ws = headers === undefined ? new WebSocket(url) : new WebSocket(url, { headers });
    const client = new TestClient(ws);
    return new Promise((resolve, reject) => {
      ws.addEventListener("open", () => resolve(client), { once: true });
      ws.addEventListener("error", () => reject(new Error("websocket failed to open")), {
        once: true,
      });
    });
  }

  /** Waits for the first frame (already received or future) that matches. */
  next(check: (f: Frame) => boolean, timeoutMs = 5000): Promise<Frame> {
    const found = this.frames.find(check);
    if (found !== undefined) return Promise.resolve(found);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#waiters = this.#waiters.filter((w) => w !== waiter);
        reject(new Error("timed out waiting for a frame"));
      }, timeoutMs);
      const waiter = {
        check,
        resolve: (f: Frame) => {
          clearTimeout(timer);
          resolve(f);
        },
      };
      this.#waiters.push(waiter);
    });
  }

  /** Sends a request and returns its id (does not wait). */
  send(method: string, params?: unknown, id: number | string = this.#nextId++): number | string {
    this.ws.send(JSON.stringify(params === undefined ? { id, method } : { id, method, params }));
    return id;
  }

  /** Sends a request and waits for its reply. */
  call(method: string, params?: unknown): Promise<Frame> {
    const id = this.send(method, params);
    return this.next((f) => f.id === id);
  }

  /** Sends a raw frame, then waits for the next error reply with `id: null`. */
  async raw(data: string | Uint8Array): Promise<Frame> {
    const before = this.frames.length;
    this.ws.send(data as string);
    return await this.next((f) => this.frames.indexOf(f) >= before && f.id === null);
  }

  /** Closes the socket and waits for the close event. */
  async close(): Promise<void> {
    if (this.ws.readyState < WebSocket.CLOSING) this.ws.close();
    await this.closed;
  }
}
