/**
 * Quickstart producer: submits a few typed jobs through a running broker.
 *
 * ```sh
 * deno run -A cli/main.ts broker --listen :8080 --data ./data/quickstart   # terminal 1
 * deno run -A examples/quickstart/worker.ts                                # terminal 2
 * deno run -A examples/quickstart/producer.ts [--url http://127.0.0.1:8080]
 * ```
 *
 * @module
 */
import { connectClient, createProducer, ValidationError } from "../../worker/mod.ts";
import { brokerUrl, jobs } from "./jobs.ts";
import { TcpWebSocket } from "../../worker/tcp_websocket.ts";

const client = connectClient({
  url: brokerUrl(),
  clientId: "quickstart-producer",
  WebSocket: TcpWebSocket,
});
const producer = createProducer(client, jobs);

try {
  // One job at a time: the payload is checked against the schema of its type.
  const welcome = await producer.submit("email:send", {
    to: "ada@example.com",
    subject: "Welcome to osqueue",
  });
  console.log(`submitted email:send ${welcome.id}`);

  // A job whose first attempt fails in the worker: it is retried after a short backoff.
  const flaky = await producer.submit(
    "email:send",
    { to: "flaky@example.com", subject: "Retried once", body: "the first attempt fails" },
    { maxAttempts: 3, backoff: { type: "fixed", delayMs: 500 } },
  );
  console.log(`submitted email:send ${flaky.id} (fails once, then succeeds)`);

  // A batch is validated as a whole and pushed in one request (one durable write).
  const batch = await producer.submitMany([
    { type: "email:send", payload: { to: "grace@example.com", subject: "Monthly digest" } },
    { type: "report:generate", payload: { month: "2025-01" }, options: { priority: 10 } },
  ]);
  console.log(`submitted a batch: ${batch.map((job) => job.id).join(", ")}`);

  // An idempotency key makes a retried submit safe: the second one is a duplicate.
  const options = { idempotencyKey: "report-2025-02-csv" };
  const first = await producer.submit(
    "report:generate",
    { month: "2025-02", format: "csv" },
    options,
  );
  const again = await producer.submit(
    "report:generate",
    { month: "2025-02", format: "csv" },
    options,
  );
  console.log(
    `submitted report:generate ${first.id}; resubmitted: ${again.id} (duplicate: ${again.duplicate})`,
  );

  // Invalid payloads are refused before anything is sent.
  try {
    await producer.submit("email:send", { to: "not-an-email", subject: "" });
  } catch (error) {
    if (!(error instanceof ValidationError)) throw error;
    console.log(`refused: ${error.message}`);
  }

  const stats = await client.stats();
  console.log(`queue: ${stats.ready} ready, ${stats.delayed} delayed, ${stats.active} active`);
} finally {
  await client.close();
}
