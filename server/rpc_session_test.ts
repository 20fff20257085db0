import assert from "node:assert/strict";
import { FakeBackend } from "./_test_fake_backend.ts";
import { RpcSession } from "./rpc_session.ts";
import { CLOSE_TRY_AGAIN_LATER } from "./rpc_session_options.ts";

Deno.test("RpcSession: a peer that does not read is closed (1013) instead of being sent more", async () => {
  const backend = new FakeBackend();
  backend.handlers.stats = () => ({ ready: 0 });
  const sent: string[] = [];
  const closed: [number, string][] = [];
  const lines: string[] = [];
  let buffered = 0;
  const session = new RpcSession({
    backend,
    send: (frame) => {
      sent.push(frame);
      return true;
    },
    close: (code, reason) => closed.push([code, reason]),
    bufferedAmount: () => buffered,
    pauseDeliveryBytes: 100,
    maxBufferedBytes: 1000,
    log: (line) => lines.push(line),
  });
  const stats = async (id: number) => {
    session.handleFrame(JSON.stringify({ id, method: "stats" }));
    await backend.until(() => backend.ops("stats").length >= id, "stats");
    await new Promise((resolve) => setTimeout(resolve, 0));
  };
  await stats(1);
  assert.equal(sent.length, 1);
  buffered = 500; // lagging: still answered, deliveries paused
  await stats(2);
  assert.equal(sent.length, 2);
  assert.ok(lines.some((line) => /not reading: 500 bytes unread/.test(line)));
  assert.equal(session.dispatcher.paused, false, "not subscribed: nothing to pause");
  buffered = 1001; // past the hard limit: the next frame closes instead
  await stats(3);
  assert.equal(sent.length, 2);
  assert.deepEqual(closed.map(([code]) => code), [CLOSE_TRY_AGAIN_LATER]);
  assert.match(closed[0][1], /slow consumer: more than 1000 bytes/);
  session.handleFrame(JSON.stringify({ id: 4, method: "stats" }));
  assert.equal(sent.length, 2, "a closed session sends nothing");
  await session.settled();
});
