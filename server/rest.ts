/**
 * The broker's REST API (JSON in and out):
 *
 * | route                  | reply                                                      |
 * | ---------------------- | ---------------------------------------------------------- |
 * | `POST /v1/jobs`        | body a `PushJob` → 201 `{id, duplicate}`; `{jobs: PushJob[]}` → 201 `{jobs: [{id, duplicate}]}` |
 * | `GET /v1/jobs/:id`     | 200, the `Job` record                                      |
 * | `DELETE /v1/jobs/:id`  | 200 `{cancelled}`                                          |
 * | `GET /v1/jobs?state=S[&type=T&cursor=C&limit=N]` | 200 `{jobs, total, next?}`: jobs in state S, newest first (no lease tokens) |
 * | `POST /v1/jobs/:id/retry` · `/promote` · `/cancel` · `/delete[?force=true]` | 200, the operation's reply |
 * | `POST /v1/retry?type=T` | 200 `{retried: [ids]}`: every dead job of type T          |
 * | `POST /v1/types/pause` · `/resume` | body `{types}` → 200 `{paused}` (admin)            |
 * | `GET /v1/schedules` · `PUT /v1/schedules/:name` (body the schedule) · `DELETE /v1/schedules/:name` | 200 `{schedules}` · `{schedule}` · `{removed}` (admin) |
 * | `POST /v1/types/limit` | body `{type, maxPerWindow?, windowMs?, maxActive?}` → 200 `{limits}` (admin) |
 * | `GET /v1/stats`        | 200, the `QueueStats`                                      |
 * | `GET /healthz`         | `{ok, leader, brokerId, leaderUrl?}`: 200 on the leader, 503 on a standby; no token needed |
 *
 * Errors are `{error: {code, message, data?}}` with the status from
 * {@linkcode httpStatusForCode}; `overloaded` and 503s carry `Retry-After`.
 * When tokens are configured, `/v1/*` needs `Authorization: Bearer <token>`
 * (else 401) whose role allows the operation (else 403 `forbidden`: `push`,
 * `get` and `stats` need a `producer` or `admin` token, `DELETE` an `admin`
 * one). A body must be declared `Content-Type: application/json` (else 415
 * `unsupported_media_type`: a cross-site form or `no-cors` fetch cannot send
 * that type without a CORS preflight). Bodies larger than the limit are
 * refused with 413 without buffering more than the limit. Client mistakes are
 * always 4xx; 500 `internal` means a bug.
 *
 * @module
 */
import {
  BadRequestError,
  type ErrorCode,
  errorToWire,
  InternalError,
  isErrorCode,
  MethodNotAllowedError,
  NotFoundError,
  OsqueueError,
  TooLargeError,
  UnauthorizedError,
  UnsupportedMediaTypeError,
  ValidationError,
} from "../errors.ts";
import type { QueueBackend } from "../protocol/backend.ts";
import { formatIssues, operationSchema, parseOperation } from "../protocol/operation_schema.ts";
import { DEFAULT_MAX_FRAME_BYTES } from "../protocol/wire.ts";
import { type Authenticator, authorize, bearerToken, type Grant, OPEN_GRANT } from "./auth.ts";
import { isPlainObject } from "./rpc_frames.ts";

/** Options of {@linkcode createRestHandler}. */
export interface RestHandlerOptions {
  /** The broker. */
  backend: QueueBackend;
  /** Finds a token's grant when the server requires tokens; absent = open to all. */
  authenticate?: Authenticator;
  /** Largest accepted request body, bytes (default `DEFAULT_MAX_FRAME_BYTES`). */
  maxBodyBytes?: number;
  /** Log sink (unexpected errors). */
  log?: (line: string) => void;
}

/** A request handler (the shape `Deno.serve` takes). */
export type RequestHandler = (request: Request) => Promise<Response>;

/** Every code's status (a new code must be given one here). */
const STATUS: Record<ErrorCode, number> = {
  validation: 400,
  bad_request: 400,
  invalid: 400,
  unauthorized: 401,
  forbidden: 403,
  not_found: 404,
  job_not_found: 404,
  method_not_found: 404,
  method_not_allowed: 405,
  conflict: 409,
  lease_lost: 409,
  too_large: 413,
  unsupported_media_type: 415,
  overloaded: 429,
  not_leader: 503,
  shutting_down: 503,
  unavailable: 503,
  timeout: 504,
  ambiguous: 500,
  job_failed: 500,
  disconnected: 500,
  internal: 500,
};

/**
 * The HTTP status for an error code: `validation`/`bad_request`/`invalid` 400,
 * `unauthorized` 401, `forbidden` 403, `not_found`/`job_not_found`/`method_not_found` 404,
 * `method_not_allowed` 405, `lease_lost`/`conflict` 409, `too_large` 413,
 * `unsupported_media_type` 415, `overloaded` 429, `not_leader`/`shutting_down`/`unavailable` 503, `timeout`
 * 504, anything else 500.
 */
export function httpStatusForCode(code: string): number {
  return isErrorCode(code) ? STATUS[code] : 500;
}

const JSON_HEADERS = { "content-type": "application/json; charset=utf-8" };

/** A JSON response. */
export function jsonResponse(body: unknown, status = 200, headers: HeadersInit = {}): Response {
  const merged = new Headers(headers);
  merged.set("content-type", JSON_HEADERS["content-type"]);
  return new Response(JSON.stringify(body), { status, headers: merged });
}

/** The error response for anything thrown: `{error: {code, message, data?}}` with its status and headers. */
export function errorResponse(error: unknown, headers: HeadersInit = {}): Response {
  const wire = errorToWire(error);
  const status = httpStatusForCode(wire.code);
  const merged = new Headers(headers);
  if (status === 429 || status === 503) merged.set("retry-after", "1");
  if (status === 401) merged.set("www-authenticate", 'Bearer realm="osqueue"');
  return jsonResponse({ error: wire }, status, merged);
}

/**
 * Reads a JSON body of at most `limit` bytes; throws `unsupported_media_type`
 * unless it is declared `application/json`, `too_large` past the limit
 * (checking `Content-Length` first, then counting while streaming) and
 * `bad_request` when it is not JSON.
 */
export async function readJsonBody(request: Request, limit: number): Promise<unknown> {
  const type = request.headers.get("content-type");
  const mediaType = type?.split(";")[0].trim().toLowerCase();
  if (mediaType !== "application/json") {
    await request.body?.cancel().catch(() => {});
    throw new UnsupportedMediaTypeError(
      `the body must be JSON sent with Content-Type: application/json (got ${
        type === null ? "none" : JSON.stringify(type)
      })`,
    );
  }
  const tooLarge = () => new TooLargeError(`body larger than ${limit} bytes`);
  const declared = request.headers.get("content-length");
  if (declared !== null && Number(declared) > limit) throw tooLarge();
  if (request.body === null) throw new BadRequestError("a JSON body is required");
  const reader = request.body.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  while (true) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.byteLength;
    if (total > limit) {
      await reader.cancel().catch(() => {});
      throw tooLarge();
    }
    chunks.push(value);
  }
  const bytes = new Uint8Array(total);
  let offset = 0;
  for (const chunk of chunks) {
    bytes.set(chunk, offset);
    offset += chunk.byteLength;
  }
  try {
    return JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(bytes));
  } catch {
    throw new BadRequestError("body is not valid JSON");
  }
}

function methodNotAllowed(allow: string): Response {
  return errorResponse(
    new MethodNotAllowedError(`method not allowed; use ${allow}`),
    { allow },
  );
}

function listQuery(request: Request): Record<string, unknown> {
  const params = new URL(request.url).searchParams;
  const query: Record<string, unknown> = { op: "list", state: params.get("state") ?? "ready" };
  for (const name of ["type", "cursor"]) {
    const value = params.get(name);
    if (value !== null && value !== "") query[name] = value;
  }
  const limit = params.get("limit");
  if (limit !== null && limit !== "") query.limit = Number(limit);
  return query;
}

function decodeJobId(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    throw new BadRequestError("malformed job id");
  }
}

/** Builds the REST request handler (routes in the module doc). Never rejects. */
export function createRestHandler(options: RestHandlerOptions): RequestHandler {
  const { backend, authenticate } = options;
  const limit = options.maxBodyBytes ?? DEFAULT_MAX_FRAME_BYTES;
  const log = options.log ?? (() => {});

  async function push(request: Request, grant: Grant): Promise<Response> {
    authorize(grant, "push", undefined);
    const body = await readJsonBody(request, limit);
    const batch = isPlainObject(body) && "jobs" in body && !("type" in body);
    const parsed = operationSchema.safeParse({ op: "push", jobs: batch ? body.jobs : [body] });
    // A single job was wrapped as `jobs[0]`: its issues name its own fields.
    if (!parsed.success) throw new ValidationError(formatIssues(parsed.error, batch ? 0 : 2));
    const op = parsed.data;
    if (op.op !== "push") throw new InternalError("unexpected operation");
    // Parsed once, here at the edge: the broker trusts it (as on the WebSocket).
    const result = await backend.request(op, { validated: true });
    return jsonResponse(batch ? { jobs: result.jobs } : result.jobs[0], 201);
  }

  /** Validates an operator operation built from a URL, checks the token's role, and sends it. */
  async function manage(raw: Record<string, unknown>, grant: Grant): Promise<unknown> {
    authorize(grant, String(raw.op), undefined);
    return await backend.request(parseOperation(raw), { validated: true });
  }

  async function route(request: Request, path: string): Promise<Response> {
    if (path === "/healthz") {
      if (request.method !== "GET" && request.method !== "HEAD") return methodNotAllowed("GET");
      const info = backend.leaderInfo();
      return jsonResponse({ ok: info.leader, ...info }, info.leader ? 200 : 503);
    }
    if (!path.startsWith("/v1/")) {
      throw new NotFoundError(`no route for ${path}`);
    }
    let grant: Grant | undefined = OPEN_GRANT;
    if (authenticate !== undefined) {
      const token = bearerToken(request.headers);
      grant = token === undefined ? undefined : authenticate(token);
      if (grant === undefined) {
        throw new UnauthorizedError("a valid Authorization: Bearer token is required");
      }
    }
    if (path === "/v1/jobs") {
      if (request.method === "GET") return jsonResponse(await manage(listQuery(request), grant));
      if (request.method !== "POST") return methodNotAllowed("GET, POST");
      return await push(request, grant);
    }
    if (path === "/v1/retry") {
      if (request.method !== "POST") return methodNotAllowed("POST");
      const type = new URL(request.url).searchParams.get("type") ?? undefined;
      return jsonResponse(await manage({ op: "retry", type }, grant));
    }
    const control = /^\/v1\/types\/(pause|resume|limit)$/.exec(path);
    if (control !== null) {
      if (request.method !== "POST") return methodNotAllowed("POST");
      const body = await readJsonBody(request, limit);
      if (!isPlainObject(body)) throw new ValidationError("the body must be an object");
      return jsonResponse(await manage({ ...body, op: control[1] }, grant));
    }
    if (path === "/v1/schedules") {
      if (request.method !== "GET") return methodNotAllowed("GET");
      return jsonResponse(await manage({ op: "schedules" }, grant));
    }
    const named = /^\/v1\/schedules\/([^/]+)$/.exec(path);
    if (named !== null) {
      const name = decodeJobId(named[1]);
      if (request.method === "DELETE") {
        return jsonResponse(await manage({ op: "unschedule", name }, grant));
      }
      if (request.method !== "PUT") return methodNotAllowed("PUT, DELETE");
      const body = await readJsonBody(request, limit);
      if (!isPlainObject(body)) throw new ValidationError("the body must be an object");
      return jsonResponse(await manage({ ...body, op: "schedule", name }, grant));
    }
    const action = /^\/v1\/jobs\/([^/]+)\/(retry|promote|cancel|delete)$/.exec(path);
    if (action !== null) {
      if (request.method !== "POST") return methodNotAllowed("POST");
      const jobId = decodeJobId(action[1]);
      const force = new URL(request.url).searchParams.get("force") === "true";
      return jsonResponse(
        await manage(
          action[2] === "delete" && force
            ? { op: "delete", jobId, force }
            : { op: action[2], jobId },
          grant,
        ),
      );
    }
    if (path === "/v1/stats") {
      if (request.method !== "GET") return methodNotAllowed("GET");
      authorize(grant, "stats", undefined);
      return jsonResponse(await backend.request({ op: "stats" }));
    }
    const match = /^\/v1\/jobs\/([^/]+)$/.exec(path);
    if (match !== null) {
      let jobId: string;
      try {
        jobId = decodeURIComponent(match[1]);
      } catch {
        throw new BadRequestError("malformed job id");
      }
      if (request.method === "GET") {
        const op = operationSchema.safeParse({ op: "get", jobId });
        if (!op.success) throw new ValidationError("invalid job id");
        authorize(grant, "get", undefined);
        const { job } = await backend.request({ op: "get", jobId });
        return jsonResponse(job);
      }
      if (request.method === "DELETE") {
        const op = operationSchema.safeParse({ op: "cancel", jobId });
        if (!op.success) throw new ValidationError("invalid job id");
        authorize(grant, "cancel", undefined);
        return jsonResponse(await backend.request({ op: "cancel", jobId }));
      }
      return methodNotAllowed("GET, DELETE");
    }
    throw new NotFoundError(`no route for ${path}`);
  }

  return async (request: Request): Promise<Response> => {
    try {
      return await route(request, new URL(request.url).pathname);
    } catch (error) {
      if (!(error instanceof OsqueueError)) {
        log(
          `rest ${request.method} ${request.url} failed: ${
            error instanceof Error ? error.stack : error
          }`,
        );
      }
      return errorResponse(error);
    }
  };
}
