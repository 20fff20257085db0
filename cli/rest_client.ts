/**
 * The CLI's calls to a broker's REST API, with errors that say what to do:
 * a URL without a scheme, a broker that cannot be reached (naming the URL and
 * the cause), an HTTP error with the broker's code and message.
 *
 * @module
 */
import {
  errorFromWire,
  InvalidError,
  type OsqueueError,
  UnavailableError,
} from "@osqueue/osqueue/worker";
import { ARGV_TOKEN_WARNING, readTokenFile } from "./secrets.ts";

/** `--token` on the command line is warned about once per process. */
let warned = false;

/** Default broker URL. */
export const DEFAULT_URL = "http://127.0.0.1:8080";

/** The `--url` / `--token-file` / `--token` flags of client commands. */
export interface ConnectionFlags {
  /** Broker URL (default env `OSQUEUE_URL`, then {@linkcode DEFAULT_URL}). */
  url?: string;
  /** Bearer token (default env `OSQUEUE_TOKEN`); visible in `ps`, prefer `token-file`. */
  token?: string;
  /** A file holding the bearer token (wins over `token`). */
  "token-file"?: string;
}

/** The `parseArgs` options of the connection flags every client command takes. */
export const CONNECTION_OPTIONS = {
  url: { type: "string" },
  token: { type: "string" },
  "token-file": { type: "string" },
} as const;

/** The connection flags out of parsed `values`. */
export function connectionFlags(
  values: { url?: string; token?: string; "token-file"?: string },
): ConnectionFlags {
  return { url: values.url, token: values.token, "token-file": values["token-file"] };
}

/** An environment variable, or `undefined` when unset or when env access is not granted. */
export function env(name: string): string | undefined {
  try {
    if (Deno.permissions.querySync({ name: "env", variable: name }).state !== "granted") {
      return undefined;
    }
    return Deno.env.get(name);
  } catch {
    return undefined;
  }
}

/** The broker's base URL from `--url` or `OSQUEUE_URL`; throws `InvalidError` for a URL without `http(s)://`. */
export function brokerUrl(flags: ConnectionFlags): URL {
  const text = flags.url ?? env("OSQUEUE_URL") ?? DEFAULT_URL;
  const source = flags.url !== undefined ? "--url" : "OSQUEUE_URL";
  if (!/^[a-z][a-z0-9+.-]*:\/\//i.test(text)) {
    throw new InvalidError(
      `${source}: "${text}" has no scheme; write it like http://${text.replace(/^\/+/, "")}`,
    );
  }
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new InvalidError(`${source}: "${text}" is not a valid URL`);
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    throw new InvalidError(`${source}: "${text}" must start with http:// or https://`);
  }
  return url;
}

/**
 * Calls the broker: `method path` with an optional JSON body; resolves with
 * the JSON reply. Throws an `OsqueueError` carrying the broker's error code,
 * or `unavailable` naming the URL and the cause when the broker cannot be reached.
 */
export async function restCall(
  flags: ConnectionFlags,
  method: string,
  path: string,
  body?: unknown,
): Promise<unknown> {
  const url = new URL(path, brokerUrl(flags));
  if (flags["token-file"] === undefined && flags.token !== undefined && !warned) {
    warned = true;
    console.error(`osqueue: ${ARGV_TOKEN_WARNING}`);
  }
  const token = flags["token-file"] !== undefined
    ? await readTokenFile(flags["token-file"])
    : flags.token ?? env("OSQUEUE_TOKEN");
  const headers: Record<string, string> = { "content-type": "application/json" };
  if (token) headers.authorization = `Bearer ${token}`;
  let response: Response;
  try {
    response = await fetch(url, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch (error) {
    throw new UnavailableError(
      `cannot reach the broker at ${url.origin} (${method} ${url.pathname}): ${
        describeCause(error)
      }`,
      { cause: error },
    );
  }
  const json = await response.json().catch(() => ({}));
  if (!response.ok) {
    throw restError(json, response, `${method} ${url.pathname}`);
  }
  return json;
}

/**
 * The typed error of a failed REST reply: the broker's `{error: {code,
 * message, data?}}` rebuilt by `errorFromWire` (an unknown code becomes
 * `internal`, naming it), its message prefixed with the request and status; a
 * body without an error object gives `internal` with the status text.
 */
export function restError(body: unknown, response: Response, request: string): OsqueueError {
  const error = isObject(body) && isObject(body.error) ? body.error : {};
  const code = typeof error.code === "string" ? error.code : "internal";
  const message = typeof error.message === "string" ? error.message : response.statusText;
  const data = isObject(error.data) ? error.data : undefined;
  return errorFromWire({
    code,
    message: `${request}: HTTP ${response.status}: ${message}`,
    ...(data === undefined ? {} : { data }),
  });
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** The innermost useful message of a fetch failure, e.g. `Connection refused (os error 111)`. */
export function describeCause(error: unknown): string {
  let current: unknown = error;
  let message = error instanceof Error ? error.message : String(error);
  for (
    let depth = 0;
    depth < 5 && current instanceof Error && current.cause !== undefined;
    depth++
  ) {
    current = current.cause;
    if (current instanceof Error && current.message) message = current.message;
  }
  const refused = /connection refused/i.test(message);
  const tail = message.replace(/^.*?(?:error sending request for url \([^)]*\): )/i, "");
  return refused ? `connection refused (is the broker running there?) — ${tail}` : tail;
}
