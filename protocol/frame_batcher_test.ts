import assert from "node:assert/strict";
import { FrameBatcher } from "./frame_batcher.ts";

const turn = () => new Promise((resolve) => setTimeout(resolve, 0));

function batcher(maxSize: number) {
  const sent: { text: string; items: number[] }[] = [];
  const frames = new FrameBatcher<number>({
    maxSize,
    size: (text) => text.length,
    send: (text, items) => sent.push({ text, items }),
  });
  return { frames, sent };
}

Deno.test("FrameBatcher: a turn's frames leave as one array at the end of the turn; a lone one alone", async () => {
  const { frames, sent } = batcher(1000);
  frames.add('{"a":1}', 1);
  frames.add('{"b":2}', 2);
  assert.deepEqual(sent, [], "nothing before the end of the turn");
  await turn();
  assert.deepEqual(sent, [{ text: '[{"a":1},{"b":2}]', items: [1, 2] }]);
  frames.add('{"c":3}', 3);
  await turn();
  assert.deepEqual(sent[1], { text: '{"c":3}', items: [3] });
});

Deno.test("FrameBatcher: a frame that would go over maxSize starts the next batch", async () => {
  const { frames, sent } = batcher(20);
  for (let i = 0; i < 4; i++) frames.add(`"${"x".repeat(6)}"`, i); // 8 characters each
  await turn();
  assert.deepEqual(sent.map((frame) => frame.items), [[0, 1], [2, 3]]);
  for (const { text } of sent) assert.ok(text.length <= 20, text);
  frames.add(`"${"y".repeat(30)}"`, 9); // bigger than maxSize on its own: goes alone
  await turn();
  assert.deepEqual(sent[2].items, [9]);
});

Deno.test("FrameBatcher: a nudge sends [] when the turn sent nothing else, and nothing extra otherwise", async () => {
  const { frames, sent } = batcher(100);
  frames.nudge();
  await turn();
  assert.deepEqual(sent, [{ text: "[]", items: [] }]);
  frames.nudge();
  frames.add("1", 1);
  await turn();
  assert.deepEqual(sent.slice(1), [{ text: "1", items: [1] }]);
});
