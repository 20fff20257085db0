/**
 * The CLI's logger: levels (`debug` < `info` < `warn` < `error`), debug and
 * info lines to stdout, warnings and errors to stderr, in one of two formats:
 * readable text (`2026-11-30T19:40:00.123Z INFO  [osqueue] broker b1 leader on …`)
 * or JSON lines (`{"time":…,"level":"info","msg":…,…fields}`).
 *
 * @module
 */
import { InvalidError } from "@osqueue/osqueue/worker";

/** Log levels, least severe first. */
export const LOG_LEVELS = ["debug", "info", "warn", "error"] as const;
/** A log level. */
export type LogLevel = typeof LOG_LEVELS[number];
/** A log format. */
export type LogFormat = "text" | "json";

/** Options of {@linkcode Logger}. */
export interface LoggerOptions {
  /** Lines below this level are dropped (default `info`). */
  level?: LogLevel;
  /** `text` (default) or `json`. */
  format?: LogFormat;
  /** Where debug and info lines go (default stdout). */
  stdout?: (line: string) => void;
  /** Where warnings and errors go (default stderr). */
  stderr?: (line: string) => void;
  /** The time (default `Date.now`). */
  now?: () => number;
}

/** Extra structured fields of a log line. */
export type LogFields = Record<string, unknown>;

const encoder = new TextEncoder();

/** Writes leveled log lines (see the module doc). */
export class Logger {
  readonly #level: number;
  readonly #format: LogFormat;
  readonly #stdout: (line: string) => void;
  readonly #stderr: (line: string) => void;
  readonly #now: () => number;

  /** A logger with these options. */
  constructor(options: LoggerOptions = {}) {
    this.#level = LOG_LEVELS.indexOf(options.level ?? "info");
    this.#format = options.format ?? "text";
    this.#stdout = options.stdout ?? ((line) => Deno.stdout.writeSync(encoder.encode(line + "\n")));
    this.#stderr = options.stderr ?? ((line) => Deno.stderr.writeSync(encoder.encode(line + "\n")));
    this.#now = options.now ?? Date.now;
  }

  /** Whether lines of `level` are written. */
  enabled(level: LogLevel): boolean {
    return LOG_LEVELS.indexOf(level) >= this.#level;
  }

  /**
   * Writes the one line that says the broker is ready (its role and URL) at
   * `info`, whatever the level: scripts and `--quiet` users wait for it.
   */
  ready(message: string, fields: LogFields = {}): void {
    this.log("info", message, fields, true);
  }

  /** Writes one line at `level` (dropped below the logger's level unless `always`). */
  log(level: LogLevel, message: string, fields: LogFields = {}, always = false): void {
    if (!always && !this.enabled(level)) return;
    const time = new Date(this.#now()).toISOString();
    let line: string;
    if (this.#format === "json") {
      line = JSON.stringify({ time, level, msg: message, ...fields });
    } else {
      const extra = Object.entries(fields)
        .map(([key, value]) =>
          `${key}=${
            typeof value === "string" && !/\s|"/.test(value) ? value : JSON.stringify(value)
          }`
        )
        .join(" ");
      line = `${time} ${level.toUpperCase().padEnd(5)} [osqueue] ${message}${
        extra ? " " + extra : ""
      }`;
    }
    (level === "warn" || level === "error" ? this.#stderr : this.#stdout)(line);
  }

  /** Writes a debug line. */
  debug(message: string, fields?: LogFields): void {
    this.log("debug", message, fields);
  }

  /** Writes an info line. */
  info(message: string, fields?: LogFields): void {
    this.log("info", message, fields);
  }

  /** Writes a warning. */
  warn(message: string, fields?: LogFields): void {
    this.log("warn", message, fields);
  }

  /** Writes an error. */
  error(message: string, fields?: LogFields): void {
    this.log("error", message, fields);
  }
}

/** Parses `--log-level`; throws an `InvalidError` naming the choices. */
export function parseLogLevel(text: string): LogLevel {
  if ((LOG_LEVELS as readonly string[]).includes(text)) return text as LogLevel;
  throw new InvalidError(`--log-level: expected one of ${LOG_LEVELS.join(", ")}, got "${text}"`);
}

/** Parses `--log-format`; throws an `InvalidError` naming the choices. */
export function parseLogFormat(text: string): LogFormat {
  if (text === "text" || text === "json") return text;
  throw new InvalidError(`--log-format: expected text or json, got "${text}"`);
}

/**
 * The level of a broker event: commits and conflicts are `debug`; leadership
 * changes `info`; ambiguous writes and read errors `warn`; other errors `error`.
 */
export function brokerEventLevel(event: string): LogLevel {
  if (["commit", "conflict", "checkpoint", "gc"].includes(event)) return "debug";
  if (event === "ambiguous-write" || event === "standby-read-error" || event === "resign-failed") {
    return "warn";
  }
  if (event.endsWith("error")) return "error";
  return "info";
}

/** The level of a server log line: failures `warn`, connection chatter `debug`. */
export function serverLineLevel(line: string): LogLevel {
  return /\bfailed\b|\berror\b/i.test(line) ? "warn" : "debug";
}
