/**
 * Bounded fuzzing of the WebSocket RPC against a real broker (MemoryStore)
 * behind `serveBroker`: 20,000 random and mutated frames from a seeded PRNG
 * (the seed is printed; set `OSQUEUE_FUZZ_SEED` to replay a run), batch
 * frames among them. Every request gets exactly one reply (a frame that is no
 * request or batch gets one), none of them `internal`; connections that present
 * wrong tokens are closed with 1008 as designed; and the broker still serves
 * a normal worker afterwards.
 */
import assert from "node:assert/strict";
import { Broker } from "../broker/broker.ts";
import type { ClaimedJob } from "../protocol/operations.ts";
import { type Frame, TestClient } from "../server/_test_ws_client.ts";
import { serveBroker } from "../server/server.ts";
import { MemoryStore } from "../storage/memory_store.ts";

const FRAMES = 20_000;
const WINDOW = 400; // frames in flight per connection
const MAX_FRAME_BYTES = 64 * 1024;
const ADMIN = "fuzz-admin-token";

/** mulberry32: a small seeded PRNG, so a failing run can be replayed. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const METHODS = [
  "push",
  "claim",
  "heartbeat",
  "complete",
  "fail",
  "release",
  "cancel",
  "get",
  "stats",
  "subscribe",
  "credit",
  "unsubscribe",
  "hello",
  "frobnicate",
  "__proto__",
  "constructor",
  "toString",
];

class Generator {
  constructor(readonly random: () => number, readonly knownIds: string[]) {}

  int(n: number): number {
    return Math.floor(this.random() * n);
  }
  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)];
  }
  chance(p: number): boolean {
    return this.random() < p;
  }

  /** Any JSON-ish value, sometimes hostile (deep, big, odd keys, odd numbers). */
  value(depth = 0): unknown {
    switch (this.int(depth > 3 ? 6 : 10)) {
      case 0:
        return null;
      case 1:
        return this.chance(0.5);
      case 2:
        return this.pick([0, -1, 1.5, 1e308, -1e-308, 2 ** 53 + 1, 42, -0]);
      case 3:
        return this.string();
      case 4:
        return this.pick(["", "x".repeat(this.int(5000)), "é€😀", "\u0000\uffff", "__proto__"]);
      case 5: {
        let deep: unknown = 1;
        for (let i = 0, n = this.int(3) === 0 ? 100 + this.int(3000) : this.int(60); i < n; i++) {
          deep = this.chance(0.5) ? [deep] : { a: deep };
        }
        return deep;
      }
      case 6:
      case 7:
        return Array.from({ length: this.int(5) }, () => this.value(depth + 1));
      default: {
        const object: Record<string, unknown> = {};
        for (let i = 0, n = this.int(5); i < n; i++) {
          const key = this.pick([
            "a",
            "type",
            "payload",
            "__proto__",
            "constructor",
            this.string(),
          ]);
          Object.defineProperty(object, key, {
            value: this.value(depth + 1),
            enumerable: true,
            configurable: true,
            writable: true,
          });
        }
        return object;
      }
    }
  }

  string(): string {
    const alphabet = 'abc-_:0123456789 "\\{}[],é😀';
    return Array.from({ length: this.int(20) }, () => alphabet[this.int(alphabet.length)]).join(
      "",
    );
  }

  jobId(): unknown {
    return this.chance(0.7) && this.knownIds.length > 0
      ? this.pick(this.knownIds)
      : this.pick(["0", "999999", "", "-1", "1e3", "../../x", this.string(), 5, null]);
  }

  /** Plausible params for `method`, often slightly wrong. */
  params(method: string): unknown {
    const maybe = <T>(v: T) => (this.chance(0.8) ? v : this.value());
    switch (method) {
      case "push":
        return {
          jobs: Array.from({ length: 1 + this.int(3) }, () => ({
            type: maybe(this.pick(["t", "email", "x".repeat(200), ""])),
            payload: this.value(),
            ...(this.chance(0.2) ? { priority: maybe(this.int(10)) } : {}),
            ...(this.chance(0.2) ? { delayMs: maybe(this.int(1000)) } : {}),
            ...(this.chance(0.2) ? { idempotencyKey: maybe(this.string()) } : {}),
            ...(this.chance(0.1) ? { backoff: this.value() } : {}),
          })),
        };
      case "claim":
        return {
          workerId: maybe("fuzz"),
          ...(this.chance(0.5) ? { max: maybe(1 + this.int(5)) } : {}),
          ...(this.chance(0.3) ? { types: maybe(["t", "email"]) } : {}),
          ...(this.chance(0.3) ? { leaseMs: maybe(1 + this.int(60_000)) } : {}),
          ...(this.chance(0.2) ? { waitMs: this.int(2) } : {}),
        };
      case "heartbeat":
      case "complete":
      case "fail":
      case "release":
        return {
          jobId: this.jobId(),
          leaseToken: maybe(this.string() || "t"),
          ...(method === "complete" && this.chance(0.5) ? { result: this.value() } : {}),
          ...(method === "fail" ? { error: maybe(this.string()), retry: maybe(true) } : {}),
        };
      case "cancel":
      case "get":
        return { jobId: this.jobId() };
      case "subscribe":
        return { workerId: maybe("fuzz-sub"), credits: maybe(this.int(3)), types: maybe(["t"]) };
      case "credit":
        return { credits: maybe(1 + this.int(2)) };
      case "hello":
        // Only the right token (or none) on the main connections: wrong ones close them.
        return this.chance(0.5) ? { token: ADMIN, clientId: maybe("fuzz") } : {};
      default:
        return this.value();
    }
  }

  /** One frame: well-formed with the given id, mutated text, or garbage. */
  frame(id: number): { data: string | Uint8Array } {
    const roll = this.random();
    if (roll < 0.02) return { data: new Uint8Array(this.int(100)) };
    if (roll < 0.025) return { data: "x".repeat(MAX_FRAME_BYTES + 1 + this.int(1000)) };
    if (roll < 0.08) return { data: this.string() };
    if (roll < 0.12) {
      // A batch: requests (well-formed or not) and stray values; now and then empty or too long.
      if (this.chance(0.05)) return { data: this.chance(0.5) ? "[]" : `[${"1,".repeat(1000)}1]` };
      const items = Array.from({ length: 1 + this.int(8) }, () => {
        if (this.chance(0.2)) return this.value(3);
        const { data } = this.frame(id);
        try {
          return typeof data === "string" ? JSON.parse(data) : null;
        } catch {
          return data;
        }
      });
      try {
        return { data: JSON.stringify(items) };
      } catch {
        return { data: "[null]" };
      }
    }
    const method = this.pick(METHODS);
    const envelope: Record<string, unknown> = { id, method };
    if (this.chance(0.9)) envelope.params = this.params(method);
    let text: string;
    try {
      text = JSON.stringify(envelope);
    } catch {
      text = JSON.stringify({ id, method });
    }
    if (roll < 0.25 && method !== "hello") {
      // Mutate: flip, drop or insert a few characters (the id may not survive).
      const chars = [...text];
      for (let i = 0, n = 1 + this.int(4); i < n; i++) {
        const at = this.int(chars.length);
        const op = this.int(3);
        if (op === 0) chars[at] = String.fromCharCode(32 + this.int(95));
        else if (op === 1) chars.splice(at, 1);
        else chars.splice(at, 0, this.pick(["{", "}", "[", "]", '"', ",", ":", "\\", "9"]));
      }
      return { data: chars.join("") };
    }
    return { data: text };
  }
}

/** The integer id a request carries, if it is an object with one (what the server echoes). */
function idOf(value: unknown): number | undefined {
  if (typeof value !== "object" || value === null || Array.isArray(value)) return undefined;
  const id = (value as { id?: unknown }).id;
  return typeof id === "number" && Number.isInteger(id) ? id : undefined;
}

/**
 * The replies a frame must get, by the id each carries (`undefined`: none):
 * one per request of a batch of 1 to 1,000, else one.
 */
function expectedReplies(data: string | Uint8Array): (number | undefined)[] {
  if (typeof data !== "string" || data.length > MAX_FRAME_BYTES) return [undefined];
  let value: unknown;
  try {
    value = JSON.parse(data);
  } catch {
    return [undefined];
  }
  if (!Array.isArray(value)) return [idOf(value)];
  if (value.length === 0 || value.length > 1000) return [undefined];
  return value.map(idOf);
}

Deno.test("fuzz: 20,000 random, mutated and batch frames: each request gets one reply; the broker keeps serving", async () => {
  const seed = Number(Deno.env.get("OSQUEUE_FUZZ_SEED") ?? Math.floor(Math.random() * 2 ** 32));
  console.log(`fuzz seed ${seed} (replay with OSQUEUE_FUZZ_SEED=${seed})`);
  const random = prng(seed);
  const broker = new Broker({ store: new MemoryStore() });
  await broker.start();
  const server = serveBroker({
    backend: broker,
    port: 0,
    token: ADMIN,
    tokens: [{ token: "fuzz-producer", role: "producer" }],
    maxFrameBytes: MAX_FRAME_BYTES,
  });
  const knownIds: string[] = [];
  for (
    const { id } of (await broker.request({
      op: "push",
      jobs: Array.from({ length: 50 }, (_, i) => ({ type: i % 2 ? "t" : "email", payload: i })),
    })).jobs
  ) knownIds.push(id);
  const gen = new Generator(random, knownIds);
  const codes = new Map<string, number>();
  let sent = 0;
  try {
    const connections = 4;
    const perConnection = FRAMES / connections;
    await Promise.all(Array.from({ length: connections }, async (_, c) => {
      const client = await TestClient.connect(server.url, { authorization: `Bearer ${ADMIN}` });
      let replies = 0;
      const byId = new Map<number, number>();
      const count = (frame: Frame) => {
        if (frame.method === "deliver") return;
        replies++;
        if (typeof frame.id === "number") byId.set(frame.id, (byId.get(frame.id) ?? 0) + 1);
        if (frame.error !== undefined) {
          codes.set(frame.error.code, (codes.get(frame.error.code) ?? 0) + 1);
        }
      };
      client.ws.addEventListener("message", (event) => count(JSON.parse(event.data as string)));
      // The id each reply must carry: the frame's own when it parses to an object
      // with an integer id (mutations may forge another frame's id), else none.
      const expected = new Map<number, number>();
      let expectedCount = 0;
      for (let i = 0; i < perConnection; i++) {
        const id = c * 1_000_000 + i;
        const { data } = gen.frame(id);
        client.ws.send(data);
        sent++;
        for (const replyId of expectedReplies(data)) {
          expectedCount++;
          if (replyId !== undefined) expected.set(replyId, (expected.get(replyId) ?? 0) + 1);
        }
        while (expectedCount - replies >= WINDOW && client.ws.readyState === WebSocket.OPEN) {
          await new Promise((resolve) => setTimeout(resolve, 1));
        }
      }
      const deadline = Date.now() + 30_000;
      while (
        replies < expectedCount && Date.now() < deadline &&
        client.ws.readyState === WebSocket.OPEN
      ) {
        await new Promise((resolve) => setTimeout(resolve, 5));
      }
      assert.equal(client.ws.readyState, WebSocket.OPEN, `connection ${c} stayed open`);
      assert.equal(replies, expectedCount, `connection ${c}: one reply per request`);
      assert.deepEqual(
        [...byId].sort((a, b) => a[0] - b[0]),
        [...expected].sort((a, b) => a[0] - b[0]),
        `connection ${c}: each frame's reply carries its id`,
      );
      await client.close();
    }));
    console.log(`fuzz: ${sent} frames; error codes ${JSON.stringify(Object.fromEntries(codes))}`);
    assert.equal(codes.get("internal") ?? 0, 0, "no frame caused an internal error");

    // Wrong tokens: each gets a reply, and the connection is closed (1008) after three.
    for (let round = 0; round < 5; round++) {
      const intruder = await TestClient.connect(server.url);
      for (let i = 1; i <= 3; i++) {
        const reply = await intruder.call("hello", { token: gen.string() + "x" });
        assert.equal(reply.error?.code, "unauthorized");
      }
      assert.equal((await intruder.closed).code, 1008);
    }

    // Still serving: a producer pushes over REST; a worker claims and completes over WS.
    const rest = await fetch(`${server.url}/v1/jobs`, {
      method: "POST",
      headers: { authorization: "Bearer fuzz-producer", "content-type": "application/json" },
      body: JSON.stringify({ type: "after-fuzz", payload: { ok: true } }),
    });
    assert.equal(rest.status, 201);
    const { id } = await rest.json();
    const worker = await TestClient.connect(server.url, { authorization: `Bearer ${ADMIN}` });
    const claimed = await worker.call("claim", { workerId: "after", types: ["after-fuzz"] });
    const [job] = (claimed.result as { jobs: ClaimedJob[] }).jobs;
    assert.equal(job.id, id);
    assert.deepEqual(
      (await worker.call("complete", { jobId: id, leaseToken: job.leaseToken })).result,
      { ok: true },
    );
    await worker.close();
  } finally {
    await server.shutdown();
    await broker.stop();
  }
});
