import assert from "node:assert/strict";
import { NotLeaderError, ShuttingDownError } from "../errors.ts";
import { closeReason, readFrame } from "./rpc_frames.ts";

Deno.test("closeReason: carries the leader url when it fits", () => {
  assert.equal(
    closeReason(new NotLeaderError("x", { data: { leaderUrl: "http://a:1" } })),
    "not_leader http://a:1",
  );
  assert.equal(
    closeReason(new NotLeaderError("x", { data: { leaderUrl: "http://" + "a".repeat(200) } })),
    "not_leader",
  );
  assert.equal(closeReason(new ShuttingDownError()), "shutting_down");
});

Deno.test("readFrame: binary, oversized, non-JSON and bad envelopes give the error to reply with", () => {
  const [binary] = readFrame(new Uint8Array(4).buffer, 100);
  assert.equal(!binary.ok && binary.error.code, "bad_request");
  const [big] = readFrame(new Uint8Array(200).buffer, 100);
  assert.deepEqual(!big.ok && big.error.data, { bytes: 200, limit: 100 });
  const [long] = readFrame("x".repeat(101), 100);
  assert.equal(!long.ok && long.error.code, "too_large");
  const [notJson] = readFrame("{", 100);
  assert.equal(!notJson.ok && notJson.error.message, "frame is not valid JSON");
  const [noMethod] = readFrame(JSON.stringify({ id: 7 }), 100);
  assert.equal(!noMethod.ok && noMethod.id, 7);
  assert.equal(!noMethod.ok && noMethod.error.code, "bad_request");
  const [request] = readFrame(JSON.stringify({ id: 1, method: "stats" }), 100);
  assert.deepEqual(request.ok && request.request, { id: 1, method: "stats" });
});
