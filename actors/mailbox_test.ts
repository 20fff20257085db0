import assert from "node:assert/strict";
import { InvalidError, OverloadedError, ShuttingDownError } from "../errors.ts";
import { DEFAULT_MAILBOX_CAPACITY, Mailbox } from "./mailbox.ts";

/** Whether `promise` has settled after the pending microtasks ran. */
async function isSettled(promise: Promise<unknown>): Promise<boolean> {
  let settled = false;
  promise.then(() => settled = true, () => settled = true);
  for (let i = 0; i < 10; i++) await Promise.resolve();
  return settled;
}

Deno.test("Mailbox drains everything queued in FIFO order", () => {
  const mailbox = new Mailbox<number>();
  assert.equal(mailbox.capacity, DEFAULT_MAILBOX_CAPACITY);
  for (let i = 0; i < 5; i++) mailbox.post(i);
  assert.equal(mailbox.size, 5);
  assert.deepEqual(mailbox.drain(), [0, 1, 2, 3, 4]);
  assert.equal(mailbox.size, 0);
  assert.deepEqual(mailbox.drain(), []);
  mailbox.post(5);
  assert.deepEqual(mailbox.drain(), [5]);
});

Deno.test("Mailbox throws OverloadedError when full and accepts again once drained", () => {
  const mailbox = new Mailbox<string>({ capacity: 2 });
  mailbox.post("a");
  mailbox.post("b");
  assert.throws(() => mailbox.post("c"), (error) => {
    assert.ok(error instanceof OverloadedError);
    assert.equal(error.code, "overloaded");
    assert.deepEqual(error.data, { capacity: 2 });
    return true;
  });
  assert.equal(mailbox.size, 2);
  assert.deepEqual(mailbox.drain(), ["a", "b"]);
  mailbox.post("c");
  assert.deepEqual(mailbox.drain(), ["c"]);
});

Deno.test("Mailbox rejects invalid capacities", () => {
  for (const capacity of [0, -1, 1.5, Number.NaN, Number.POSITIVE_INFINITY]) {
    assert.throws(() => new Mailbox({ capacity }), InvalidError, `capacity ${capacity}`);
  }
});

Deno.test("Mailbox.close returns what was queued and refuses new messages", () => {
  const mailbox = new Mailbox<number>();
  mailbox.post(1);
  mailbox.post(2);
  assert.equal(mailbox.closed, false);
  assert.deepEqual(mailbox.close(), [1, 2]);
  assert.equal(mailbox.closed, true);
  assert.equal(mailbox.size, 0);
  assert.throws(() => mailbox.post(3), ShuttingDownError);
  assert.deepEqual(mailbox.close(), []);
});

Deno.test("Mailbox.remove takes out one queued message", () => {
  const mailbox = new Mailbox<{ id: number }>();
  const [a, b, c] = [{ id: 1 }, { id: 2 }, { id: 3 }];
  mailbox.post(a);
  mailbox.post(b);
  mailbox.post(c);
  assert.equal(mailbox.remove(b), true);
  assert.equal(mailbox.remove(b), false);
  assert.equal(mailbox.remove({ id: 1 }), false);
  assert.deepEqual(mailbox.drain(), [a, c]);
});

Deno.test("Mailbox.next resolves at once when messages are queued or the mailbox is closed", async () => {
  const mailbox = new Mailbox<number>();
  mailbox.post(1);
  assert.equal(await isSettled(mailbox.next()), true);
  mailbox.drain();
  mailbox.close();
  assert.equal(await isSettled(mailbox.next()), true);
});

Deno.test("Mailbox.next waits for a post", async () => {
  const mailbox = new Mailbox<number>();
  const first = mailbox.next();
  const second = mailbox.next();
  assert.equal(await isSettled(first), false);
  mailbox.post(7);
  assert.equal(await isSettled(first), true);
  assert.equal(await isSettled(second), true);
  assert.deepEqual(mailbox.drain(), [7]);
  const third = mailbox.next();
  assert.equal(await isSettled(third), false);
  mailbox.post(8);
  await third;
});

Deno.test("Mailbox.next wakes on close", async () => {
  const mailbox = new Mailbox<number>();
  const waiting = mailbox.next();
  assert.equal(await isSettled(waiting), false);
  mailbox.close();
  await waiting;
});

Deno.test("Mailbox.next rejects with the signal's reason on abort", async () => {
  const mailbox = new Mailbox<number>();
  const controller = new AbortController();
  const waiting = mailbox.next(controller.signal);
  const reason = new Error("gave up");
  controller.abort(reason);
  await assert.rejects(waiting, (error) => error === reason);
  // An already aborted signal rejects at once, but only when nothing is queued.
  await assert.rejects(mailbox.next(controller.signal), (error) => error === reason);
  mailbox.post(1);
  await mailbox.next(controller.signal);
});

Deno.test("Mailbox.next removes its abort listener once woken", async () => {
  const mailbox = new Mailbox<number>();
  const controller = new AbortController();
  const waiting = mailbox.next(controller.signal);
  mailbox.post(1);
  await waiting;
  // Aborting after the wake must not reject anything or throw.
  controller.abort(new Error("late"));
  assert.deepEqual(mailbox.drain(), [1]);
});

Deno.test("mailbox: posted() waits for the next post even when messages are queued", async () => {
  const mailbox = new Mailbox<number>();
  mailbox.post(1);
  let woke = false;
  const waiting = mailbox.posted().then(() => woke = true);
  await new Promise((resolve) => setTimeout(resolve, 5));
  assert.equal(woke, false, "a queued message does not wake it");
  mailbox.post(2);
  await waiting;
  assert.equal(woke, true);
  const controller = new AbortController();
  const aborted = mailbox.posted(controller.signal);
  controller.abort(new Error("stop"));
  await assert.rejects(aborted, /stop/);
});
