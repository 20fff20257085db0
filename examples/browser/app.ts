/**
 * The browser example's page script: a {@linkcode Worker} that runs the jobs of
 * `jobs.ts` in the page, and a producer form that submits jobs (validated in
 * the page before they are sent). Bundled for the browser by `bundle.ts`
 * (`deno task bundle:browser`), served with `index.html` by `serve.ts`.
 *
 * Open `index.html?broker=http://127.0.0.1:8080&token=…` to connect at once;
 * without `broker` the page waits for the form.
 *
 * @module
 */
import {
  connectClient,
  createProducer,
  type OsqueueClient,
  OsqueueError,
  ValidationError,
  Worker,
} from "../../worker/mod.ts";
import { jobs } from "./jobs.ts";

const $ = <T extends HTMLElement>(id: string): T => document.getElementById(id) as T;
const events = $<HTMLUListElement>("events");
const status = $<HTMLOutputElement>("status");

/** Adds a line to the event list; `kind` becomes its class (completed, failed, refused…). */
function record(kind: string, text: string, jobId?: string): void {
  const item = document.createElement("li");
  item.className = kind;
  if (jobId !== undefined) item.dataset.job = jobId;
  item.textContent = `${new Date().toLocaleTimeString()} ${kind}: ${text}`;
  events.prepend(item);
}

function setStatus(state: string, detail = state): void {
  document.body.dataset.status = state;
  status.textContent = detail;
}

let client: OsqueueClient | undefined;
let worker: Worker | undefined;

async function start(url: string, token: string): Promise<void> {
  await stop();
  setStatus("connecting", `connecting to ${url}…`);
  const workerId = `browser-${crypto.randomUUID().slice(0, 8)}`;
  client = connectClient({
    url,
    token: token === "" ? undefined : token,
    clientId: workerId,
    onError: (error) => record("error", `${error.code}: ${error.message}`),
  });
  worker = new Worker({
    client,
    workerId,
    registry: jobs,
    concurrency: 2,
    handlers: {
      "text:reverse": (job) => ({ reversed: [...job.payload.text].reverse().join("") }),
      "math:sum": (job) => ({ sum: job.payload.numbers.reduce((a, b) => a + b, 0) }),
    },
    onJobComplete: (job, result) =>
      record("completed", `${job.type} ${JSON.stringify(result)}`, job.id),
    onJobFail: (job, error) => record("failed", `${job.type}: ${(error as Error).message}`, job.id),
    log: (level, message, data) => {
      if (level !== "debug") console.log(`[worker] ${level} ${message}`, data ?? "");
    },
  });
  try {
    await worker.start();
    setStatus("running", `worker ${workerId} running on ${url}`);
  } catch (error) {
    const message = error instanceof OsqueueError ? `${error.code}: ${error.message}` : `${error}`;
    setStatus("error", message);
    record("error", message);
  }
}

async function stop(): Promise<void> {
  await worker?.stop({ timeoutMs: 5_000 }).catch(() => {});
  await client?.close();
  worker = client = undefined;
}

$<HTMLFormElement>("connect").addEventListener("submit", (event) => {
  event.preventDefault();
  void start($<HTMLInputElement>("broker").value, $<HTMLInputElement>("token").value);
});

$<HTMLFormElement>("produce").addEventListener("submit", async (event) => {
  event.preventDefault();
  if (client === undefined) return record("refused", "connect first");
  const type = $<HTMLSelectElement>("type").value;
  let payload: unknown;
  try {
    payload = JSON.parse($<HTMLTextAreaElement>("payload").value);
  } catch {
    return record("refused", "the payload is not valid JSON");
  }
  try {
    if (!jobs.has(type)) throw new ValidationError(`unknown job type ${type}`);
    // The registry checks the payload against the type's schema before anything is sent.
    const { id } = await createProducer(client, jobs).submit(type, payload as never);
    record("submitted", `${type} ${JSON.stringify(payload)}`, id);
  } catch (error) {
    const kind = error instanceof ValidationError ? "refused" : "error";
    record(kind, (error as Error).message);
  }
});

const params = new URLSearchParams(location.search);
$<HTMLInputElement>("broker").value = params.get("broker") ?? "http://127.0.0.1:8080";
$<HTMLInputElement>("token").value = params.get("token") ?? "";
if (params.has("broker")) {
  void start(params.get("broker")!, params.get("token") ?? "");
} else {
  setStatus("idle", "not connected");
}
