import assert from "node:assert/strict";
import { formatJob } from "./jobs.ts";

Deno.test("jobs get shows progress, parents and children", () => {
  const text = formatJob({
    id: "5",
    type: "t",
    payload: null,
    state: "active",
    priority: 0,
    runAt: 0,
    attempts: 1,
    maxAttempts: 3,
    backoff: { type: "exponential", delayMs: 1000 },
    createdAt: 0,
    updatedAt: 0,
    progress: { done: 3, total: 4 },
    dependsOn: ["1", "2"],
    children: ["9"],
  }, 1000);
  assert.match(text, /progress +\{"done":3,"total":4\}/);
  assert.match(text, /depends on +1, 2/);
  assert.match(text, /children +9/);
});
