/**
 * Requests waiting in the broker, and long-poll claims parked until a job is
 * ready or their wait is over. Every parked claim is settled on every path:
 * answered with jobs, answered empty at its deadline, rejected when its caller
 * gives up, or rejected when the broker stops or steps down.
 *
 * @module
 */
import { OverloadedError } from "../errors.ts";
import type { BrokerOperation } from "../core/apply.ts";

/** One request waiting in the broker: its operation and how to answer it. */
export interface Pending {
  /** The operation. */
  operation: BrokerOperation;
  /** Answers with a value. */
  resolve(value: unknown): void;
  /** Answers with an error. */
  reject(error: unknown): void;
  /** The caller's signal: an aborted request is dropped and rejected with its reason. */
  signal?: AbortSignal;
  /** For parked claims: when to give up and answer `{jobs: []}`. */
  deadline?: number;
}

/** Options of {@linkcode ParkedClaims}. */
export interface ParkedClaimsOptions {
  /** Most claims parked at once; more are answered `overloaded` (default 10 000). */
  max?: number;
}

/** The set of parked long-poll claims. */
export class ParkedClaims {
  readonly #max: number;
  #claims: Pending[] = [];

  /** Builds an empty set. */
  constructor(options: ParkedClaimsOptions = {}) {
    this.#max = options.max ?? 10_000;
  }

  /** How many claims are parked. */
  get size(): number {
    return this.#claims.length;
  }

  /** The most claims parked at once. */
  get max(): number {
    return this.#max;
  }

  /**
   * Parks `claim` (its caller waits); answers it at once instead when its
   * caller has given up (rejected with the signal's reason) or the set is
   * full (`overloaded`).
   */
  park(claim: Pending): void {
    if (claim.signal?.aborted) return claim.reject(claim.signal.reason);
    if (this.#claims.length >= this.#max) {
      return claim.reject(
        new OverloadedError(
          `more than ${this.#max} long-poll claims are waiting; retry later or use fewer waiting claims`,
        ),
      );
    }
    this.#claims.push(claim);
  }

  /** Takes every parked claim out (claims whose caller gave up are rejected, not returned). */
  takeAll(): Pending[] {
    const out: Pending[] = [];
    for (const claim of this.#claims.splice(0)) {
      if (claim.signal?.aborted) claim.reject(claim.signal.reason);
      else out.push(claim);
    }
    return out;
  }

  /** Removes `claim` if parked; returns whether it was. */
  remove(claim: Pending): boolean {
    const at = this.#claims.indexOf(claim);
    if (at < 0) return false;
    this.#claims.splice(at, 1);
    return true;
  }

  /** Answers `{jobs: []}` to the claims whose wait is over at `now`. */
  expire(now: number): void {
    this.#claims = this.#claims.filter((claim) => {
      if ((claim.deadline ?? 0) > now) return true;
      claim.resolve({ jobs: [] });
      return false;
    });
  }

  /** The earliest deadline, or Infinity. */
  nextDeadline(): number {
    let at = Infinity;
    for (const claim of this.#claims) at = Math.min(at, claim.deadline ?? Infinity);
    return at;
  }

  /** Rejects and drops every parked claim. */
  rejectAll(error: unknown): void {
    for (const claim of this.#claims.splice(0)) claim.reject(error);
  }
}
