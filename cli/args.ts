/**
 * Small argument helpers for the CLI: durations and listen addresses.
 *
 * @module
 */
import { InvalidError } from "@osqueue/osqueue/worker";

const UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/**
 * Parses `500ms`, `30s`, `5m`, `1h` (or `0`). A number without a unit is
 * refused: `--delay 5` could mean 5 ms or 5 s.
 */
export function parseDuration(text: string, name = "duration"): number {
  const match = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/.exec(text.trim());
  if (match === null) {
    throw new InvalidError(`${name}: expected a duration like 500ms, 30s, 5m or 1h, got "${text}"`);
  }
  if (match[2] === undefined && Number(match[1]) !== 0) {
    const n = match[1];
    throw new InvalidError(
      `${name}: expected a duration with a unit, got "${text}": write ${n}ms, ${n}s, ${n}m or ${n}h`,
    );
  }
  return Math.round(Number(match[1]) * UNITS[match[2] ?? "ms"]);
}

/** A parsed `--listen` address. */
export interface ListenAddress {
  /** Interface to bind (default `0.0.0.0` for `:port`). */
  hostname: string;
  /** TCP port; 0 picks a free one. */
  port: number;
}

/** Parses `:8080`, `127.0.0.1:8080` or `8080`. */
export function parseListen(text: string): ListenAddress {
  const match = /^(?:(.*):)?(\d{1,5})$/.exec(text.trim());
  const port = match ? Number(match[2]) : NaN;
  if (match === null || port > 65535) {
    throw new InvalidError(`--listen: expected [host]:port like :8080, got "${text}"`);
  }
  const host = match[1] === undefined || match[1] === "" ? "0.0.0.0" : match[1];
  return { hostname: host.replace(/^\[(.*)\]$/, "$1"), port };
}
