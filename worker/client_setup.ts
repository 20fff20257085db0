/**
 * {@linkcode resolveClientOptions}: an `OsqueueClient`'s options with their
 * defaults filled in and checked (an `InvalidError` names the first bad one),
 * in the shape its connection manager takes.
 *
 * @module
 */
import { InvalidError } from "../errors.ts";
import { BrokerUrls } from "./broker_urls.ts";
import {
  type ClientOptions,
  DEFAULT_CONNECT_TIMEOUT_MS,
  DEFAULT_KEEPALIVE_MS,
  DEFAULT_KEEPALIVE_TIMEOUT_MS,
  DEFAULT_MAX_DELAY_MS,
  DEFAULT_MIN_DELAY_MS,
  DEFAULT_REQUEST_TIMEOUT_MS,
  defaultTimers,
} from "./client_options.ts";
import type { ConnectionManagerOptions } from "./connection_manager.ts";

/** Client options resolved: every default filled in, the broker URLs validated. */
export type ResolvedClientOptions = Omit<ConnectionManagerOptions, "events" | "requests">;

/**
 * Fills in the defaults of `options` and checks them: at least one valid
 * broker URL, finite non-negative timeouts (`connectTimeoutMs` at most
 * `requestTimeoutMs`), `maxDelayMs` at least `minDelayMs`.
 */
export function resolveClientOptions(options: ClientOptions): ResolvedClientOptions {
  const requestTimeoutMs = options.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS;
  const connectTimeoutMs = Math.min(
    options.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS,
    requestTimeoutMs,
  );
  const keepaliveMs = options.keepaliveMs ?? DEFAULT_KEEPALIVE_MS;
  const keepaliveTimeoutMs = options.keepaliveTimeoutMs ?? DEFAULT_KEEPALIVE_TIMEOUT_MS;
  const timers = options.timers ?? defaultTimers;
  const clock = options.clock ?? Date.now;
  const urls = new BrokerUrls({
    urls: [...(options.url === undefined ? [] : [options.url]), ...(options.urls ?? [])],
    suspectMs: connectTimeoutMs + keepaliveMs + keepaliveTimeoutMs,
    clock,
  });
  for (
    const [name, value] of [
      ["requestTimeoutMs", requestTimeoutMs],
      ["connectTimeoutMs", connectTimeoutMs],
      ["keepaliveMs", keepaliveMs],
      ["keepaliveTimeoutMs", keepaliveTimeoutMs],
    ] as const
  ) {
    if (!(value >= 0) || !Number.isFinite(value)) {
      throw new InvalidError(`${name} must be a finite number ≥ 0, got ${value}`);
    }
  }
  const minDelayMs = options.reconnect?.minDelayMs ?? DEFAULT_MIN_DELAY_MS;
  return {
    urls,
    ...(options.token === undefined ? {} : { token: options.token }),
    ...(options.clientId === undefined ? {} : { clientId: options.clientId }),
    requestTimeoutMs,
    connectTimeoutMs,
    keepaliveMs,
    keepaliveTimeoutMs,
    minDelayMs,
    maxDelayMs: Math.max(minDelayMs, options.reconnect?.maxDelayMs ?? DEFAULT_MAX_DELAY_MS),
    random: options.reconnect?.random ?? Math.random,
    maxRedirects: options.maxRedirects ?? 3,
    WebSocket: options.WebSocket ?? globalThis.WebSocket,
    timers,
    clock,
    ...(options.onError === undefined ? {} : { onError: options.onError }),
  };
}
