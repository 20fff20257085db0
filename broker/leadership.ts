/**
 * Leadership decisions, as pure functions of what a broker has seen and its
 * own clock. A standby takes over when the leader resigned (the head names no
 * leader) or when the log has not grown for `takeoverTimeoutMs` by the
 * standby's clock; a leader calls itself healthy only while its last landed
 * commit is recent.
 *
 * @module
 */

/** What a standby has seen of the log: the last epoch and sequence number, and since when. */
export interface LogObservation {
  /** Epoch last seen (head or records). */
  epoch: number;
  /** Last log sequence number seen. */
  commit: number;
  /** When (standby's clock) either last changed. */
  since: number;
}

/** What a standby read now. */
export interface LogReading {
  /** The head's epoch. */
  epoch: number;
  /** The last log sequence number. */
  commit: number;
  /** Whether the head names a leader. */
  hasLeader: boolean;
}

/** The standby's next step and what it has seen. */
export interface StandbyDecision {
  /** `take-over` when the leader resigned or stalled; else `wait`. */
  action: "wait" | "take-over";
  /** The updated observation. */
  seen: LogObservation;
}

/** Decides whether a standby takes over, given what it saw before and reads now. */
export function decideStandby(options: {
  seen: LogObservation;
  reading: LogReading;
  now: number;
  takeoverTimeoutMs: number;
}): StandbyDecision {
  const { seen, reading, now } = options;
  if (reading.epoch !== seen.epoch || reading.commit !== seen.commit) {
    const next = { epoch: reading.epoch, commit: reading.commit, since: now };
    return { action: reading.hasLeader ? "wait" : "take-over", seen: next };
  }
  const stalled = now - seen.since >= options.takeoverTimeoutMs;
  return { action: !reading.hasLeader || stalled ? "take-over" : "wait", seen };
}

/**
 * Whether a leader may call itself leader now: its last landed commit is
 * less than `windowMs` old by its own clock. A leader frozen (SIGSTOP, a long
 * GC pause) past the window says no until it commits again.
 */
export function leadsNow(
  options: { lastLandedAt: number; now: number; windowMs: number },
): boolean {
  return options.now - options.lastLandedAt < options.windowMs;
}
