/**
 * Which web pages may reach the broker: `Origin` and `Host` checks and CORS.
 *
 * - A request with an `Origin` header (browsers send one on WebSocket upgrades
 *   and on cross-origin fetches) is accepted only from the broker's own origin
 *   or an origin in the allow list; any other is refused with 403 `forbidden`
 *   before it reaches the queue. Clients that are not browsers send no
 *   `Origin` and are not affected.
 * - When the broker listens on loopback, the `Host` header must name a
 *   loopback host (`localhost`, `127.x.x.x`, `[::1]`, any port): a page on a
 *   rebinding domain (DNS rebinding) is refused with 403.
 * - Allowed origins get CORS headers, and preflight `OPTIONS` requests are
 *   answered for them.
 *
 * @module
 */
import { ForbiddenError, InvalidError } from "../errors.ts";

/** Methods a browser may use cross-origin (REST). */
const CORS_METHODS = "GET, POST, DELETE";
/** Request headers a browser may send cross-origin. */
const CORS_HEADERS = "authorization, content-type";
/** How long a browser may cache a preflight answer, seconds. */
const CORS_MAX_AGE = "600";

/** Options of {@linkcode createAccessPolicy}. */
export interface AccessPolicyOptions {
  /**
   * Origins (`scheme://host[:port]`) whose pages may use the broker, besides
   * its own; `"*"` allows every origin (only sensible with tokens). Default none.
   */
  allowOrigins?: readonly string[];
  /**
   * Accept only these `Host` names (no port; IPv6 in brackets); the entry
   * `"loopback"` stands for `localhost`, `127.x.x.x` and `[::1]`, and `"*"`
   * turns the check off. Default: any host.
   */
  allowHosts?: readonly string[];
}

/** The origin and host rules of a server (see the module doc). */
export interface AccessPolicy {
  /** Throws `forbidden` when the request's `Host` or `Origin` is not accepted. */
  check(request: Request): void;
  /** CORS headers to add to a response to `request` (empty unless its origin is allowed and foreign). */
  corsHeaders(request: Request): Headers;
  /** The answer to a preflight `OPTIONS` request (call after {@linkcode AccessPolicy.check}). */
  preflight(request: Request): Response;
}

/** Normalises an origin to `scheme://host[:port]` (lower case, default port dropped), or `undefined`. */
export function normalizeOrigin(origin: string): string | undefined {
  if (origin === "*") return origin;
  try {
    const url = new URL(origin);
    if (url.protocol !== "http:" && url.protocol !== "https:") return undefined;
    if (url.pathname !== "/" || url.search !== "" || url.hash !== "") return undefined;
    return url.origin;
  } catch {
    return undefined;
  }
}

/** Whether `host` (a `Host` header without its port) names this machine's loopback interface. */
export function isLoopbackHost(host: string): boolean {
  const name = host.toLowerCase();
  return name === "localhost" || name === "[::1]" || /^127(\.\d{1,3}){3}$/.test(name);
}

/** Whether a listening `hostname` is a loopback address (so Host checks apply). */
export function isLoopbackAddress(hostname: string): boolean {
  const name = hostname.toLowerCase();
  return name === "localhost" || name === "::1" || /^127(\.\d{1,3}){3}$/.test(name);
}

/** The host name of a `Host` header value, without its port. */
function hostName(header: string): string {
  const trimmed = header.trim().toLowerCase();
  if (trimmed.startsWith("[")) {
    const end = trimmed.indexOf("]");
    return end < 0 ? trimmed : trimmed.slice(0, end + 1);
  }
  const colon = trimmed.lastIndexOf(":");
  return colon < 0 ? trimmed : trimmed.slice(0, colon);
}

/** Builds an {@linkcode AccessPolicy}; throws `invalid` for a malformed origin. */
export function createAccessPolicy(options: AccessPolicyOptions = {}): AccessPolicy {
  const allowed = new Set<string>();
  for (const origin of options.allowOrigins ?? []) {
    const normal = normalizeOrigin(origin.trim());
    if (normal === undefined) {
      throw new InvalidError(
        `allowOrigins: ${JSON.stringify(origin)} is not an origin like https://app.example.com`,
      );
    }
    allowed.add(normal);
  }
  const anyOrigin = allowed.has("*");
  const hostSet = options.allowHosts === undefined || options.allowHosts.includes("*")
    ? undefined
    : new Set(options.allowHosts.map((h) => h.trim().toLowerCase()));
  const loopbackHosts = hostSet?.has("loopback") ?? false;

  /** The request's foreign origin (normalised), or `undefined` when none or its own. */
  function foreignOrigin(request: Request): string | undefined {
    const origin = request.headers.get("origin");
    if (origin === null) return undefined;
    const host = request.headers.get("host");
    try {
      const url = new URL(origin);
      if (host !== null && url.host === host.toLowerCase()) return undefined;
    } catch {
      // "null" (sandboxed pages, file:) and garbage are foreign
    }
    return normalizeOrigin(origin) ?? origin;
  }

  function originAllowed(origin: string): boolean {
    return anyOrigin || allowed.has(origin);
  }

  return {
    check(request: Request): void {
      if (hostSet !== undefined) {
        const header = request.headers.get("host");
        const name = header === null ? undefined : hostName(header);
        const ok = name !== undefined &&
          (hostSet.has(name) || (loopbackHosts && isLoopbackHost(name)));
        if (!ok) {
          throw new ForbiddenError(
            `Host ${JSON.stringify(header)} is not accepted (allowed: ${
              [...hostSet].join(", ")
            }; behind a proxy that keeps the Host header, add it with --allow-host)`,
          );
        }
      }
      const origin = foreignOrigin(request);
      if (origin !== undefined && !originAllowed(origin)) {
        throw new ForbiddenError(
          `Origin ${
            JSON.stringify(request.headers.get("origin"))
          } is not allowed (start the broker with --allow-origin to allow a web page)`,
        );
      }
    },

    corsHeaders(request: Request): Headers {
      const headers = new Headers();
      const origin = foreignOrigin(request);
      if (origin !== undefined && originAllowed(origin)) {
        headers.set("access-control-allow-origin", request.headers.get("origin")!);
        headers.set("access-control-expose-headers", "retry-after");
        headers.set("vary", "Origin");
      }
      return headers;
    },

    preflight(request: Request): Response {
      const headers = this.corsHeaders(request);
      headers.set("allow", `${CORS_METHODS}, OPTIONS`);
      if (headers.has("access-control-allow-origin")) {
        headers.set("access-control-allow-methods", CORS_METHODS);
        headers.set("access-control-allow-headers", CORS_HEADERS);
        headers.set("access-control-max-age", CORS_MAX_AGE);
      }
      return new Response(null, { status: 204, headers });
    },
  };
}
