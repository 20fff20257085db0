/**
 * Bearer tokens for the broker server: constant-time comparison,
 * `Authorization: Bearer` parsing, and scoped tokens.
 *
 * A token has a {@linkcode TokenRole}:
 *
 * | role       | may call                                                                 |
 * | ---------- | ------------------------------------------------------------------------ |
 * | `producer` | `push`, `get`, `stats`                                                   |
 * | `worker`   | `claim`, `heartbeat`, `complete`, `fail`, `release`, `subscribe`, `credit`, `unsubscribe` |
 * | `admin`    | everything (including `cancel` and any operation added later)            |
 *
 * A `worker` token may be limited to job `types`: its claims and
 * subscriptions then only reach those types (a claim without `types` is
 * narrowed to them; naming another type is `forbidden`). A browser worker can
 * hold such a token without being able to push or cancel anything.
 *
 * Tokens are read from a JSON file ({@linkcode parseTokensFile}) or the
 * environment, never from the command line (where `ps` shows them).
 *
 * @module
 */
import { createHash, timingSafeEqual } from "node:crypto";
import { ForbiddenError, InvalidError } from "../errors.ts";

/** Checks a presented token against the configured one; `true` when they match. */
export type TokenChecker = (candidate: string) => boolean;

/** What a token lets its holder do (see the module doc). */
export type TokenRole = "producer" | "worker" | "admin";

/** Every role, in order of growing power. */
export const TOKEN_ROLES: readonly TokenRole[] = ["producer", "worker", "admin"];

/** One configured token and what it allows. */
export interface TokenGrant {
  /** The secret itself. */
  token: string;
  /** What it allows. */
  role: TokenRole;
  /** For `worker` tokens: only these job types may be claimed or subscribed to (all when absent). */
  types?: string[];
  /** A name for logs (never the token). */
  name?: string;
}

/** The rights of an authenticated caller: a {@linkcode TokenGrant} without its secret. */
export type Grant = Omit<TokenGrant, "token">;

/** The grant of a caller when the server requires no token: everything. */
export const OPEN_GRANT: Grant = Object.freeze({ role: "admin" as const, name: "open" });

/** Finds the grant of a presented token, `undefined` when no configured token matches. */
export type Authenticator = (candidate: string) => Grant | undefined;

function sha256(text: string): Uint8Array {
  return createHash("sha256").update(text, "utf8").digest();
}

/**
 * Builds a {@linkcode TokenChecker} for `token`. Both sides are hashed with
 * SHA-256 and the digests compared with `timingSafeEqual`, so the time taken
 * depends on neither the secret's content nor its length.
 */
export function createTokenChecker(token: string): TokenChecker {
  const expected = sha256(token);
  return (candidate: string): boolean => timingSafeEqual(sha256(candidate), expected);
}

/**
 * Builds an {@linkcode Authenticator} over `grants`. The candidate is hashed
 * once and compared with every configured digest (no early exit), so the time
 * taken says nothing about which token, if any, matched.
 */
export function createAuthenticator(grants: readonly TokenGrant[]): Authenticator {
  const entries = grants.map((grant) => {
    checkGrant(grant);
    const { token, ...rights } = grant;
    const frozen: Grant = Object.freeze({
      ...rights,
      ...(rights.types === undefined ? {} : { types: Object.freeze([...rights.types]) }),
    }) as Grant;
    return { digest: sha256(token), grant: frozen };
  });
  return (candidate: string): Grant | undefined => {
    const digest = sha256(candidate);
    let found: Grant | undefined;
    for (const entry of entries) {
      if (timingSafeEqual(digest, entry.digest) && found === undefined) found = entry.grant;
    }
    return found;
  };
}

function checkGrant(grant: TokenGrant): void {
  if (typeof grant.token !== "string" || grant.token.length < 1 || grant.token.length > 4096) {
    throw new InvalidError("a token must be a string of 1 to 4096 characters");
  }
  if (/\s/.test(grant.token)) throw new InvalidError("a token must not contain whitespace");
  if (!TOKEN_ROLES.includes(grant.role)) {
    throw new InvalidError(`unknown token role ${JSON.stringify(grant.role)}`);
  }
  if (grant.types !== undefined) {
    if (grant.role !== "worker") throw new InvalidError("only worker tokens may list types");
    if (
      !Array.isArray(grant.types) || grant.types.length === 0 ||
      !grant.types.every((t) => typeof t === "string" && t.length > 0)
    ) {
      throw new InvalidError("types must be a non-empty list of job types");
    }
  }
}

/**
 * Parses a tokens file: `{"tokens": [{token, role, types?, name?}, …]}` (or
 * the bare array). Throws `invalid` saying what is wrong (never echoing a
 * token).
 *
 * @example
 * ```json
 * {"tokens": [
 *   {"name": "ops", "token": "…", "role": "admin"},
 *   {"name": "web", "token": "…", "role": "producer"},
 *   {"name": "mailer", "token": "…", "role": "worker", "types": ["email"]}
 * ]}
 * ```
 */
export function parseTokensFile(text: string): TokenGrant[] {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new InvalidError("tokens file: not valid JSON");
  }
  const list = Array.isArray(value)
    ? value
    : typeof value === "object" && value !== null && Array.isArray(
        (value as { tokens?: unknown }).tokens,
      )
    ? (value as { tokens: unknown[] }).tokens
    : undefined;
  if (list === undefined) throw new InvalidError('tokens file: expected {"tokens": [...]}');
  const seen = new Set<string>();
  return list.map((entry, index) => {
    if (typeof entry !== "object" || entry === null) {
      throw new InvalidError(`tokens file: tokens[${index}] is not an object`);
    }
    const { token, role, types, name } = entry as Record<string, unknown>;
    const grant = { token, role, types, name } as TokenGrant;
    if (grant.types === undefined) delete grant.types;
    if (grant.name === undefined) delete grant.name;
    else if (typeof grant.name !== "string") {
      throw new InvalidError(`tokens file: tokens[${index}].name must be a string`);
    }
    try {
      checkGrant(grant);
    } catch (error) {
      throw new InvalidError(`tokens file: tokens[${index}]: ${(error as Error).message}`);
    }
    if (seen.has(grant.token)) {
      throw new InvalidError(`tokens file: tokens[${index}] repeats an earlier token`);
    }
    seen.add(grant.token);
    return grant;
  });
}

const ROLE_METHODS: Record<Exclude<TokenRole, "admin">, ReadonlySet<string>> = {
  producer: new Set(["push", "get", "stats", "watch", "unwatch"]),
  worker: new Set([
    "claim",
    "heartbeat",
    "complete",
    "fail",
    "release",
    "progress",
    "subscribe",
    "credit",
    "unsubscribe",
    "watch",
    "unwatch",
  ]),
};

/**
 * Checks that `grant` may call `method` with `params`, and returns the params
 * to use: a `claim` or `subscribe` of a type-limited worker token without
 * `types` is narrowed to the token's types. Throws a `ForbiddenError` naming
 * the role and what it may do.
 */
export function authorize<P>(grant: Grant, method: string, params: P): P {
  if (grant.role === "admin") return params;
  if (!ROLE_METHODS[grant.role].has(method)) {
    throw new ForbiddenError(
      `a ${grant.role} token may not call ${method} (allowed: ${
        [...ROLE_METHODS[grant.role]].join(", ")
      })`,
      { data: { role: grant.role, method } },
    );
  }
  const allowed = grant.types;
  if (allowed === undefined || (method !== "claim" && method !== "subscribe")) return params;
  if (typeof params !== "object" || params === null || Array.isArray(params)) return params;
  const asked = (params as { types?: unknown }).types;
  if (!Array.isArray(asked) || asked.length === 0) {
    return { ...params, types: [...allowed] };
  }
  const outside = asked.filter((type) => !allowed.includes(type as string));
  if (outside.length > 0) {
    throw new ForbiddenError(
      `this worker token may only ${method} types ${JSON.stringify(allowed)}, not ${
        JSON.stringify(outside)
      }`,
      { data: { role: grant.role, method, types: outside } },
    );
  }
  return params;
}

/**
 * The token of an `Authorization: Bearer <token>` header, or `undefined` when
 * the header is absent or uses another scheme.
 */
export function bearerToken(headers: Headers): string | undefined {
  const value = headers.get("authorization");
  if (value === null) return undefined;
  const match = /^\s*bearer\s+(\S+)\s*$/i.exec(value);
  return match === null ? undefined : match[1];
}
