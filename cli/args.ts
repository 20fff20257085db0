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

/**
 * Parses a size: a whole number of bytes, or one with a unit (`kB`, `MB`,
 * `GB` = powers of 1000; `KiB`, `MiB`, `GiB` = powers of 1024). Throws an
 * `InvalidError` naming `name`.
 */
export function parseSize(text: string, name = "size"): number {
  const match = /^(\d+(?:\.\d+)?)\s*(b|kb|mb|gb|kib|mib|gib)?$/i.exec(text.trim());
  if (match === null) {
    throw new InvalidError(`${name}: "${text}" is not a size (e.g. 1048576, 500MB, 2GiB)`);
  }
  const units: Record<string, number> = {
    b: 1,
    kb: 1e3,
    mb: 1e6,
    gb: 1e9,
    kib: 1024,
    mib: 1024 ** 2,
    gib: 1024 ** 3,
  };
  return Math.round(Number(match[1]) * units[(match[2] ?? "b").toLowerCase()]);
}

/** Parses a whole number ≥ 1; throws an `InvalidError` naming `name`. */
export function parseCount(text: string, name = "count"): number {
  const n = Number(text);
  if (!Number.isSafeInteger(n) || n < 1) {
    throw new InvalidError(`${name}: "${text}" is not a whole number ≥ 1`);
  }
  return n;
}
