import assert from "node:assert/strict";
import type { ClaimedJob } from "../protocol/operations.ts";
import { FakeBackend } from "./_test_fake_backend.ts";
import { RpcSession } from "./rpc_session.ts";

const tick = () => new Promise((resolve) => setTimeout(resolve, 0));

function session(backend: FakeBackend, send?: (frame: string) => boolean) {
  const sent: string[] = [];
  const rpc = new RpcSession({
    backend,
    send: send ?? ((frame) => {
      sent.push(frame);
      return true;
    }),
    close: () => {},
  });
  return { rpc, sent, frames: () => sent.map((text) => JSON.parse(text)) };
}

const hello = (protocol?: number) =>
  JSON.stringify({ id: 0, method: "hello", params: protocol === undefined ? {} : { protocol } });

Deno.test("RpcSession batches: hello tells the client the protocol and the frame limit", () => {
  const { rpc, frames } = session(new FakeBackend());
  rpc.handleFrame(hello(2));
  assert.deepEqual(frames(), [{
    id: 0,
    result: { brokerId: "broker-1", leader: true, protocol: 2, maxFrameBytes: 1024 * 1024 },
  }]);
});

Deno.test("RpcSession batches: a batch frame's requests each get their reply, a bad one its own error", async () => {
  const backend = new FakeBackend();
  backend.handlers.stats = () => ({ ready: 3 });
  const { rpc, frames } = session(backend);
  rpc.handleFrame(hello()); // protocol 1: replies leave one per frame
  rpc.handleFrame(JSON.stringify([
    { id: 1, method: "stats" },
    { id: 2, method: "nope" },
    { id: 3 },
    { id: 4, method: "get", params: { jobId: 7 } },
    { id: 5, method: "stats" },
  ]));
  await backend.until(() => backend.ops("stats").length === 2, "both stats");
  await tick();
  const replies = frames().slice(1);
  assert.equal(replies.length, 5, "one frame per reply for a protocol-1 client");
  const byId = new Map(replies.map((reply) => [reply.id, reply]));
  assert.deepEqual(byId.get(1).result, { ready: 3 });
  assert.deepEqual(byId.get(5).result, { ready: 3 });
  assert.equal(byId.get(2).error.code, "method_not_found");
  assert.equal(byId.get(3).error.code, "bad_request");
  assert.equal(byId.get(4).error.code, "validation");
});

Deno.test("RpcSession batches: empty and oversized batches are refused as a whole, a non-object element on its own", () => {
  const { rpc, frames } = session(new FakeBackend());
  rpc.handleFrame("[]");
  rpc.handleFrame(
    JSON.stringify(Array.from({ length: 1001 }, (_, id) => ({ id, method: "ping" }))),
  );
  rpc.handleFrame("[1]");
  const [empty, tooMany, notRequest] = frames();
  assert.equal(empty.id, null);
  assert.match(empty.error.message, /1 to 1000 requests, not 0/);
  assert.equal(tooMany.id, null);
  assert.match(tooMany.error.message, /not 1001/);
  assert.equal(notRequest.id, null);
  assert.equal(notRequest.error.code, "bad_request");
});

Deno.test("RpcSession batches: a protocol-2 client gets a turn's replies in one array frame, in order", async () => {
  const backend = new FakeBackend();
  backend.handlers.stats = () => ({ ready: 1 });
  const { rpc, frames } = session(backend);
  rpc.handleFrame(hello(2));
  rpc.handleFrame(JSON.stringify([
    { id: 1, method: "ping" },
    { id: 2, method: "stats" },
    { id: 3, method: "ping" },
  ]));
  assert.equal(frames().length, 1, "nothing leaves before the end of the turn");
  await backend.until(() => backend.ops("stats").length === 1, "stats");
  await tick();
  const [, first, second] = frames();
  assert.deepEqual(first, [{ id: 1, result: { pong: true } }, { id: 3, result: { pong: true } }]);
  assert.deepEqual(second, { id: 2, result: { ready: 1 } }, "a lone reply is not wrapped");
});

Deno.test("RpcSession batches: a batch over 256 KiB is split, each part under the limit", async () => {
  const backend = new FakeBackend();
  const big = "x".repeat(100 * 1024);
  backend.handlers.stats = () => ({ big });
  const { rpc, sent } = session(backend);
  rpc.handleFrame(hello(2));
  rpc.handleFrame(JSON.stringify([1, 2, 3, 4, 5].map((id) => ({ id, method: "stats" }))));
  await backend.until(() => backend.ops("stats").length === 5, "stats");
  await tick();
  const parts = sent.slice(1);
  assert.ok(parts.length >= 2, `${parts.length} frames`);
  for (const part of parts) assert.ok(part.length <= 256 * 1024, `${part.length} chars`);
  const ids = parts.flatMap((part) => {
    const value = JSON.parse(part);
    return (Array.isArray(value) ? value : [value]).map((reply) => reply.id);
  });
  assert.deepEqual(ids, [1, 2, 3, 4, 5]);
});

Deno.test("RpcSession batches: claimed jobs whose queued reply cannot be sent go back to the queue", async () => {
  const backend = new FakeBackend();
  const job = { id: "j1", leaseToken: "t1" } as ClaimedJob;
  backend.handlers.claim = () => ({ jobs: [job] });
  let open = true;
  const sent: string[] = [];
  const { rpc } = session(backend, (frame) => {
    if (!open) return false;
    sent.push(frame);
    return true;
  });
  rpc.handleFrame(hello(2));
  rpc.handleFrame(JSON.stringify({ id: 1, method: "claim", params: { workerId: "w" } }));
  // The reply is queued for the end of the turn; the socket is gone by then.
  await backend.until(() => backend.ops("claim").length === 1, "claim");
  open = false;
  await backend.until(() => backend.ops("release").length === 1, "release");
  assert.deepEqual(backend.ops("release"), [{ op: "release", jobId: "j1", leaseToken: "t1" }]);
  assert.equal(sent.length, 1, "only the hello reply left");
});

Deno.test("RpcSession batches: a client that asked for acks gets [] after a turn that sent it nothing", async () => {
  const backend = new FakeBackend();
  let answer!: () => void;
  backend.handlers.stats = () => new Promise((resolve) => (answer = () => resolve({ ready: 0 })));
  for (const ack of [true, false]) {
    const { rpc, sent } = session(backend);
    rpc.handleFrame(JSON.stringify({ id: 0, method: "hello", params: { protocol: 2, ack } }));
    rpc.handleFrame(JSON.stringify([{ id: 1, method: "stats" }, { id: 2, method: "stats" }]));
    await tick();
    assert.deepEqual(sent.slice(1), ack ? ["[]"] : [], `ack ${ack}: one empty batch for the frame`);
    rpc.handleFrame(JSON.stringify({ id: 3, method: "ping" }));
    await tick();
    assert.deepEqual(
      sent.slice(ack ? 2 : 1).map((text) => JSON.parse(text)),
      [{ id: 3, result: { pong: true } }],
      "a turn that sends a reply sends no empty batch",
    );
    answer();
    await tick();
  }
});
