/**
 * Per-type claim controls: paused types, rate limits (at most `maxPerWindow`
 * jobs of a type started per fixed window of `windowMs`) and global
 * concurrency (at most `maxActive` jobs of a type active at once across all
 * workers). Pure: the settings and the window counters live in the state's
 * `extra` (keys {@linkcode PAUSED_KEY}, {@linkcode LIMITS_KEY},
 * {@linkcode WINDOWS_KEY}), so they are persisted with the batch that changes
 * them and survive a failover.
 *
 * Windows are aligned on the epoch (`floor(now / windowMs) * windowMs`), so
 * every broker computes the same window for the same instant; the counter of
 * a window is stored as `{start, count}` and counts from zero again once
 * `start` is not the current window.
 *
 * @module
 */
import { ValidationError } from "../errors.ts";
import type {
  JsonValue,
  LimitOperation,
  OperationResults,
  TypeLimit,
  TypeLimitStats,
} from "../protocol/operations.ts";
import { isObject } from "./job_codec.ts";
import type { QueueState } from "./state.ts";
import { stateData } from "./state_data.ts";
import type { StateDraft } from "./state_draft.ts";

/** `extra` key of the paused types (a sorted array of type names). */
export const PAUSED_KEY = "pausedTypes";
/** `extra` key of the per-type limits (`{[type]: TypeLimit}`). */
export const LIMITS_KEY = "typeLimits";
/** `extra` key of the per-type window counters (`{[type]: {start, count}}`). */
export const WINDOWS_KEY = "typeWindows";

/** The window length when a limit gives `maxPerWindow` without `windowMs`, ms. */
export const DEFAULT_WINDOW_MS = 1000;

/** A type's counter for one rate-limit window. */
export interface TypeWindow {
  /** Window start, epoch ms (a multiple of `windowMs`). */
  start: number;
  /** Jobs of the type started (claimed) in that window. */
  count: number;
}

/** The controls a state holds, read from its `extra`. */
export interface TypeControls {
  /** Types whose claims return nothing. */
  paused: ReadonlySet<string>;
  /** Limits by type. */
  limits: Readonly<Record<string, TypeLimit>>;
  /** Window counters by type. */
  windows: Readonly<Record<string, TypeWindow>>;
}

/** Reads the controls from a state's `extra`; `undefined` when there are none (the fast path). */
export function readControls(
  extra: (key: string) => JsonValue | undefined,
): TypeControls | undefined {
  const paused = extra(PAUSED_KEY);
  const limits = extra(LIMITS_KEY);
  if (paused === undefined && limits === undefined) return undefined;
  const windows = extra(WINDOWS_KEY);
  return {
    paused: new Set(Array.isArray(paused) ? paused.filter((t) => typeof t === "string") : []),
    limits: isObject(limits) ? limits as unknown as Record<string, TypeLimit> : {},
    windows: isObject(windows) ? windows as unknown as Record<string, TypeWindow> : {},
  };
}

/** The start of the window of `limit` holding `now`. */
export function windowStart(limit: TypeLimit, now: number): number {
  const ms = limit.windowMs ?? DEFAULT_WINDOW_MS;
  return Math.floor(now / ms) * ms;
}

/**
 * Decides, during one claim (or one `hasReady` check), which types may start
 * a job, and counts the jobs started. `activeOf(type)` gives the number of
 * active jobs of a type before the claim (asked only for types with `maxActive`).
 */
export class ClaimGate {
  #controls: TypeControls;
  #now: number;
  #activeOf: (type: string) => number;
  #active = new Map<string, number>();
  #windows: Record<string, TypeWindow> | undefined;

  /** A gate over `controls` at `now`. */
  constructor(controls: TypeControls, now: number, activeOf: (type: string) => number) {
    this.#controls = controls;
    this.#now = now;
    this.#activeOf = activeOf;
  }

  /** Whether a job of `type` may not be started now: paused, or at one of its limits. */
  blocked(type: string): boolean {
    if (this.#controls.paused.has(type)) return true;
    const limit = this.#controls.limits[type];
    if (limit === undefined) return false;
    if (limit.maxActive !== undefined && this.#activeCount(type) >= limit.maxActive) return true;
    if (limit.maxPerWindow !== undefined && this.#started(type, limit) >= limit.maxPerWindow) {
      return true;
    }
    return false;
  }

  /** Counts one job of `type` started now. */
  took(type: string): void {
    const limit = this.#controls.limits[type];
    if (limit === undefined) return;
    if (limit.maxActive !== undefined) this.#active.set(type, this.#activeCount(type) + 1);
    if (limit.maxPerWindow !== undefined) {
      const start = windowStart(limit, this.#now);
      this.#windows ??= { ...this.#controls.windows };
      this.#windows[type] = { start, count: this.#started(type, limit) + 1 };
    }
  }

  /** Writes the window counters to the draft when a claim counted any (only limited types are kept). */
  persist(draft: StateDraft): void {
    if (this.#windows === undefined) return;
    const kept: Record<string, JsonValue> = {};
    for (const [type, window] of Object.entries(this.#windows)) {
      if (this.#controls.limits[type]?.maxPerWindow !== undefined) {
        kept[type] = { start: window.start, count: window.count };
      }
    }
    draft.setExtra(WINDOWS_KEY, kept);
  }

  #activeCount(type: string): number {
    let n = this.#active.get(type);
    if (n === undefined) {
      n = this.#activeOf(type);
      this.#active.set(type, n);
    }
    return n;
  }

  #started(type: string, limit: TypeLimit): number {
    const window = (this.#windows ?? this.#controls.windows)[type];
    return window !== undefined && window.start === windowStart(limit, this.#now)
      ? window.count
      : 0;
  }
}

/**
 * The earliest end of a rate-limit window after `now` for a type that used
 * its whole window (its claims wait for that moment); `undefined` when none.
 */
export function nextWindowEnd(controls: TypeControls, now: number): number | undefined {
  let best: number | undefined;
  for (const [type, limit] of Object.entries(controls.limits)) {
    if (limit.maxPerWindow === undefined) continue;
    const window = controls.windows[type];
    if (window === undefined || window.start !== windowStart(limit, now)) continue;
    if (window.count < limit.maxPerWindow) continue;
    const end = window.start + (limit.windowMs ?? DEFAULT_WINDOW_MS);
    if (end > now && (best === undefined || end < best)) best = end;
  }
  return best;
}

// ---------------------------------------------------------------------------
// Operations.

/** Pauses (`paused: true`) or resumes claims of `types`; replies with every paused type. */
export function setPaused(
  draft: StateDraft,
  types: readonly string[],
  paused: boolean,
): OperationResults["pause"] {
  if (!Array.isArray(types) || types.some((t) => typeof t !== "string" || t === "")) {
    throw new ValidationError(`${paused ? "pause" : "resume"}: types must be non-empty strings`);
  }
  const current = draft.extra(PAUSED_KEY);
  const set = new Set(Array.isArray(current) ? current as string[] : []);
  const before = [...set].sort();
  for (const type of types) {
    if (paused) set.add(type);
    else set.delete(type);
  }
  const sorted = [...set].sort();
  if (sorted.join("\n") !== before.join("\n")) {
    draft.setExtra(PAUSED_KEY, sorted.length === 0 ? undefined : sorted);
  }
  return { paused: sorted };
}

/**
 * Sets the limits of one type (replacing any it had), or removes them when
 * the operation gives none; replies with every type's limits.
 */
export function setLimit(draft: StateDraft, operation: LimitOperation): OperationResults["limit"] {
  const { type, maxPerWindow, windowMs, maxActive } = operation;
  if (typeof type !== "string" || type === "") {
    throw new ValidationError("limit: type must be a non-empty string");
  }
  const positive = (value: number | undefined, name: string) => {
    if (value !== undefined && !(Number.isSafeInteger(value) && value >= 1)) {
      throw new ValidationError(`limit: ${name} must be an integer >= 1`);
    }
  };
  positive(maxPerWindow, "maxPerWindow");
  positive(windowMs, "windowMs");
  positive(maxActive, "maxActive");
  if (windowMs !== undefined && maxPerWindow === undefined) {
    throw new ValidationError("limit: windowMs needs maxPerWindow");
  }
  const current = draft.extra(LIMITS_KEY);
  const limits: Record<string, JsonValue> = isObject(current)
    ? { ...current as Record<string, JsonValue> }
    : {};
  const limit: Record<string, JsonValue> = {};
  if (maxPerWindow !== undefined) {
    limit.maxPerWindow = maxPerWindow;
    limit.windowMs = windowMs ?? DEFAULT_WINDOW_MS;
  }
  if (maxActive !== undefined) limit.maxActive = maxActive;
  if (Object.keys(limit).length === 0) delete limits[type];
  else limits[type] = limit;
  draft.setExtra(LIMITS_KEY, Object.keys(limits).length === 0 ? undefined : limits);
  if (maxPerWindow === undefined) {
    const windows = draft.extra(WINDOWS_KEY);
    if (isObject(windows) && type in windows) {
      const { [type]: _dropped, ...rest } = windows as Record<string, JsonValue>;
      draft.setExtra(WINDOWS_KEY, Object.keys(rest).length === 0 ? undefined : rest);
    }
  }
  return { limits: limits as unknown as Record<string, TypeLimit> };
}

/** What `stats` adds for the controls: paused types and each limited type's usage. */
export function controlStats(
  controls: TypeControls,
  now: number,
  activeOf: (type: string) => number,
): { paused: string[]; typeLimits: Record<string, TypeLimitStats> } {
  const typeLimits: Record<string, TypeLimitStats> = {};
  for (const [type, limit] of Object.entries(controls.limits)) {
    const stats: TypeLimitStats = { ...limit, active: activeOf(type) };
    if (limit.maxPerWindow !== undefined) {
      const start = windowStart(limit, now);
      const window = controls.windows[type];
      stats.startedInWindow = window?.start === start ? window.count : 0;
      stats.windowEndsAt = start + (limit.windowMs ?? DEFAULT_WINDOW_MS);
    }
    typeLimits[type] = stats;
  }
  return { paused: [...controls.paused].sort(), typeLimits };
}

/**
 * A counter of active jobs by type over `state`'s active index (a scan of the
 * active jobs on first use, then cached): for `maxActive` checks.
 */
export function activeCounter(
  state: QueueState | (() => QueueState),
): (type: string) => number {
  let counts: Map<string, number> | undefined;
  return (type) => {
    if (counts === undefined) {
      counts = new Map();
      const data = stateData(typeof state === "function" ? state() : state);
      for (const entry of data.active) {
        const job = data.jobs.get(entry.seq);
        if (job !== undefined) counts.set(job.type, (counts.get(job.type) ?? 0) + 1);
      }
    }
    return counts.get(type) ?? 0;
  };
}

/**
 * Whether a claim for `types` (all when undefined) could start a job of some
 * type at `now` under `controls`, given which types have claimable jobs
 * (`claimable(type)`) and the types present (`present`).
 */
export function anyClaimable(
  controls: TypeControls,
  state: QueueState,
  now: number,
  types: readonly string[] | undefined,
  present: Iterable<string>,
  claimable: (type: string) => boolean,
): boolean {
  const gate = new ClaimGate(controls, now, activeCounter(state));
  for (const type of types ?? present) {
    if (!gate.blocked(type) && claimable(type)) return true;
  }
  return false;
}
