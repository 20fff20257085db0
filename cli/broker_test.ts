import assert from "node:assert/strict";
import { lingerMs } from "./broker.ts";

Deno.test("lingerMs: --linger wins; else 2 ms on object storage and none on a directory", () => {
  assert.equal(lingerMs({}), 0);
  assert.equal(lingerMs({ storage: "s3://bucket/prefix" }), 2);
  assert.equal(lingerMs({ storage: "s3://bucket/prefix", linger: "0" }), 0);
  assert.equal(lingerMs({ linger: "5ms" }), 5);
  assert.throws(() => lingerMs({ linger: "soon" }), /--linger: expected a duration/);
});
