/**
 * What clients were told: acknowledged pushes, completions, cancellations
 * and dead-letterings. Violations that acknowledgements alone reveal (a job
 * completed twice with both completions acknowledged) are reported at once.
 *
 * @module
 */

/** An acknowledged push of one job. */
export interface AckedPush {
  /** The payload's unique id. */
  uid: string;
  /** The idempotency key, if any. */
  key?: string;
  /** The job id the broker answered. */
  id: string;
  /** Whether the broker said the key was known. */
  duplicate: boolean;
  /** Virtual time of the acknowledgement. */
  at: number;
}

/** Everything clients were told. */
export class Ledger {
  /** Acknowledged pushes, by job id (several when idempotent retries answered the same id). */
  readonly pushes = new Map<string, AckedPush[]>();
  /** Acknowledged completions: job id → lease tokens. */
  readonly completed = new Map<string, string[]>();
  /** Jobs a `fail` said are dead. */
  readonly dead = new Set<string>();
  /** Jobs a `cancel` said were cancelled. */
  readonly cancelled = new Set<string>();
  /** Operations acknowledged, by op. */
  readonly acks = new Map<string, number>();
  /** Operations that failed, by error code. */
  readonly errors = new Map<string, number>();
  /** Called with a violation message. */
  readonly #fail: (message: string) => void;

  /** A ledger reporting violations to `fail`. */
  constructor(fail: (message: string) => void) {
    this.#fail = fail;
  }

  /** Counts an acknowledged operation. */
  ack(op: string): void {
    this.acks.set(op, (this.acks.get(op) ?? 0) + 1);
  }

  /** Counts a failed operation. */
  error(code: string): void {
    this.errors.set(code, (this.errors.get(code) ?? 0) + 1);
  }

  /** A push was acknowledged. */
  pushed(push: AckedPush): void {
    const list = this.pushes.get(push.id) ?? [];
    if (list.some((other) => other.uid !== push.uid && other.key !== push.key)) {
      this.#fail(`job ${push.id} was acknowledged for two different pushes`);
    }
    list.push(push);
    this.pushes.set(push.id, list);
  }

  /** A completion with `token` was acknowledged. */
  complete(id: string, token: string): void {
    const tokens = this.completed.get(id) ?? [];
    if (tokens.length > 0) {
      this.#fail(
        `job ${id} completed twice, both acknowledged (leases ${tokens[0].slice(0, 8)} and ${
          token.slice(0, 8)
        })`,
      );
    }
    if (this.cancelled.has(id)) this.#fail(`job ${id} completed after an acknowledged cancel`);
    tokens.push(token);
    this.completed.set(id, tokens);
  }

  /** A cancel answered `cancelled: true`. */
  cancel(id: string): void {
    if (this.completed.has(id)) this.#fail(`job ${id} cancelled after an acknowledged completion`);
    this.cancelled.add(id);
  }
}
