/**
 * `osqueue push`: enqueues one job, or every job of a JSON-lines file,
 * through a broker's REST API.
 *
 * @module
 */
import { parseArgs } from "node:util";
import { parseDuration } from "./args.ts";
import { formatPushFile, pushFile } from "./push_file.ts";
import { restCall } from "./rest_client.ts";

/** The help of `osqueue push`. */
export const PUSH_HELP = `osqueue push — enqueue a job, or every job of a JSON-lines file

Options:
  --url URL          broker URL (default http://127.0.0.1:8080); env OSQUEUE_URL
  --type TYPE        job type (required without --file; with --file, the default type)
  --payload JSON     JSON payload (default null)
  --priority N       higher runs first
  --delay DUR        run no earlier than this from now, with a unit: 500ms, 30s, 5m, 1h
  --max-attempts N   attempts before dead-lettering
  --key KEY          idempotency key
  --file PATH        push one job per line, each {"type": …, "payload": …, …} ("-" = stdin);
                     every line is checked before anything is pushed; progress on stderr
  --json             print the reply as JSON
  --token-file PATH  bearer token read from a file; env OSQUEUE_TOKEN
  --token TOKEN      bearer token (visible in ps: prefer --token-file)`;

/** Runs `osqueue push` with its arguments; resolves with the exit code. */
export async function pushCommand(args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    options: {
      url: { type: "string" },
      type: { type: "string" },
      payload: { type: "string" },
      priority: { type: "string" },
      delay: { type: "string" },
      "max-attempts": { type: "string" },
      key: { type: "string" },
      file: { type: "string" },
      json: { type: "boolean" },
      token: { type: "string" },
      "token-file": { type: "string" },
      help: { type: "boolean", short: "h" },
    },
    strict: true,
  });
  if (values.help) {
    console.log(PUSH_HELP);
    return 0;
  }
  const flags = { url: values.url, token: values.token, "token-file": values["token-file"] };
  if (values.file !== undefined) {
    if (values.payload !== undefined || values.key !== undefined) {
      console.error(
        "osqueue push: --payload and --key apply to one job; with --file put them on each line",
      );
      return 2;
    }
    const defaults: Record<string, unknown> = {};
    if (values.type !== undefined) defaults.type = values.type;
    if (values.priority !== undefined) defaults.priority = Number(values.priority);
    if (values.delay !== undefined) defaults.delayMs = parseDuration(values.delay, "--delay");
    if (values["max-attempts"] !== undefined) defaults.maxAttempts = Number(values["max-attempts"]);
    const text = values.file === "-"
      ? await new Response(Deno.stdin.readable).text()
      : await Deno.readTextFile(values.file);
    const result = await pushFile({
      flags,
      text,
      name: values.file === "-" ? "stdin" : values.file,
      defaults,
      progress: values.json ? undefined : (line) => console.error(line),
    });
    console.log(values.json ? JSON.stringify(result) : formatPushFile(result));
    return 0;
  }
  if (values.type === undefined) {
    console.error(`osqueue push: --type is required\n\n${PUSH_HELP}`);
    return 2;
  }
  let payload: unknown;
  try {
    payload = JSON.parse(values.payload ?? "null");
  } catch {
    console.error(`osqueue push: --payload is not valid JSON: ${values.payload}`);
    return 2;
  }
  const job: Record<string, unknown> = { type: values.type, payload };
  if (values.priority !== undefined) job.priority = Number(values.priority);
  if (values.delay !== undefined) job.delayMs = parseDuration(values.delay, "--delay");
  if (values["max-attempts"] !== undefined) job.maxAttempts = Number(values["max-attempts"]);
  if (values.key !== undefined) job.idempotencyKey = values.key;
  const body = await restCall(flags, "POST", "/v1/jobs", job) as { id: string; duplicate: boolean };
  console.log(
    values.json
      ? JSON.stringify(body)
      : body.duplicate
      ? `job ${body.id} already exists with key ${values.key} (not pushed again)`
      : `pushed job ${body.id} (${values.type})`,
  );
  return 0;
}
