import assert from "node:assert/strict";
import { lingerMs } from "./broker.ts";

Deno.test("lingerMs: --linger wins; else 2 ms", () => {
  assert.equal(lingerMs({}), 2);
  assert.equal(lingerMs({ linger: "0" }), 0);
  assert.equal(lingerMs({ linger: "5ms" }), 5);
  assert.throws(() => lingerMs({ linger: "soon" }), /--linger: expected a duration/);
});
