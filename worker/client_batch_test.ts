import assert from "node:assert/strict";
import { OsqueueClient } from "./client.ts";
import { utf8Length } from "./connection.ts";
import { batchBytes, isDenoBuiltinWebSocket, ONE_WRITE_FRAME_BYTES } from "./greeting.ts";
import { TcpWebSocket } from "./tcp_websocket.ts";
import { type StubConnection, withStub } from "./_test_server.ts";

/** A hello reply from a broker that takes batch frames. */
const helloV2 = (maxFrameBytes = 1024 * 1024) => ({
  result: { brokerId: "stub", leader: true, protocol: 2, maxFrameBytes },
});

Deno.test("batchBytes: none from a protocol-1 broker, else its frame limit, at most 256 KiB (1 KiB for small frames)", () => {
  assert.equal(batchBytes({ brokerId: "b", leader: true }), 0);
  assert.equal(batchBytes({ brokerId: "b", leader: true, protocol: 1 }), 0);
  assert.equal(batchBytes({ brokerId: "b", leader: true, protocol: 2 }), 256 * 1024);
  assert.equal(batchBytes({ brokerId: "b", leader: true, protocol: 2, maxFrameBytes: 4000 }), 4000);
  assert.equal(
    batchBytes({ brokerId: "b", leader: true, protocol: 3, maxFrameBytes: 64 << 20 }),
    256 * 1024,
  );
  assert.equal(
    batchBytes({ brokerId: "b", leader: true, protocol: 2 }, { smallFrames: true }),
    ONE_WRITE_FRAME_BYTES,
  );
});

Deno.test("isDenoBuiltinWebSocket: only Deno's own constructor", () => {
  assert.equal(isDenoBuiltinWebSocket(WebSocket), true);
  assert.equal(isDenoBuiltinWebSocket(TcpWebSocket), false);
});

Deno.test("utf8Length: counts bytes as TextEncoder does", () => {
  for (const text of ["", "abc", "é", "✓", "😀", "a😀é✓", "\ud800x"]) {
    assert.equal(utf8Length(text), new TextEncoder().encode(text).length, JSON.stringify(text));
  }
});

Deno.test("client batches: a turn's requests leave in one frame, and array replies are read one by one", async () => {
  const waiting: { id: number | string; jobId: string }[] = [];
  let conn: StubConnection | undefined;
  await withStub((request, connection) => {
    if (request.method === "hello") return helloV2();
    conn = connection;
    waiting.push({ id: request.id, jobId: (request.params as { jobId: string }).jobId });
    if (waiting.length === 3) {
      // All three answered in one array frame, last first.
      connection.send(
        waiting.reverse().map(({ id, jobId }) => ({
          id,
          result: { job: { id: jobId } },
        })),
      );
    }
    return undefined;
  }, async (server) => {
    const client = new OsqueueClient({ url: server.url });
    try {
      const got = await Promise.all(["a", "b", "c"].map((id) => client.get(id)));
      assert.deepEqual(got.map((reply) => reply.job.id), ["a", "b", "c"]);
      const frames = conn!.frames.map((text) => JSON.parse(text));
      assert.equal(frames.length, 2);
      assert.equal(frames[0].method, "hello", "hello leaves alone");
      assert.deepEqual(frames[1].map((request: { params: unknown }) => request.params), [
        { jobId: "a" },
        { jobId: "b" },
        { jobId: "c" },
      ]);
    } finally {
      await client.close();
    }
  });
});

Deno.test("client batches: none to a protocol-1 broker", async () => {
  await withStub((request) => {
    if (request.method === "get") return { result: { job: { id: "x" } } };
    return undefined;
  }, async (server) => {
    const client = new OsqueueClient({ url: server.url });
    try {
      await Promise.all(["a", "b", "c"].map((id) => client.get(id)));
      const frames = server.connections[0].frames.map((text) => JSON.parse(text));
      assert.equal(frames.length, 4);
      assert.ok(frames.every((frame) => !Array.isArray(frame)));
    } finally {
      await client.close();
    }
  });
});

Deno.test("client batches: a batch stays within the broker's frame limit", async () => {
  await withStub((request) => {
    if (request.method === "hello") return helloV2(1000);
    if (request.method === "push") return { result: { jobs: [{ id: "j", duplicate: false }] } };
    return undefined;
  }, async (server) => {
    const client = new OsqueueClient({ url: server.url });
    try {
      const payload = { text: "é".repeat(150) };
      await Promise.all(
        Array.from({ length: 10 }, () => client.push({ type: "t", payload })),
      );
      const frames = server.connections[0].frames.slice(1);
      assert.ok(frames.length >= 4, `${frames.length} frames for 10 pushes of ~350 bytes`);
      for (const frame of frames) {
        assert.ok(utf8Length(frame) <= 1000, `${utf8Length(frame)} bytes`);
      }
      const count = frames
        .map((text) => JSON.parse(text))
        .reduce((sum, frame) => sum + (Array.isArray(frame) ? frame.length : 1), 0);
      assert.equal(count, 10);
    } finally {
      await client.close();
    }
  });
});

Deno.test("client batches: small frames and acks on Deno's own WebSocket, one big frame on TcpWebSocket", async () => {
  for (
    const [transport, WebSocket] of [["builtin", globalThis.WebSocket], [
      "tcp",
      TcpWebSocket,
    ]] as const
  ) {
    await withStub((request) => {
      if (request.method === "hello") return helloV2();
      if (request.method === "push") return { result: { jobs: [{ id: "j", duplicate: false }] } };
      return undefined;
    }, async (server) => {
      const client = new OsqueueClient({ url: server.url, WebSocket });
      try {
        const payload = { text: "y".repeat(300) };
        await Promise.all(Array.from({ length: 10 }, () => client.push({ type: "t", payload })));
        const frames = server.connections[0].frames.slice(1);
        const hello = server.connections[0].requests[0].params as { ack?: boolean };
        if (transport === "tcp") {
          assert.equal(frames.length, 1, "one frame for the whole turn");
          assert.equal(hello.ack, undefined, "no acks needed without Nagle");
        } else {
          assert.equal(hello.ack, true, "acks asked for: the broker's reply releases held frames");
          assert.ok(frames.length >= 4, `${frames.length} frames`);
          for (const frame of frames) assert.ok(utf8Length(frame) <= ONE_WRITE_FRAME_BYTES);
        }
      } finally {
        await client.close();
      }
    });
  }
});
