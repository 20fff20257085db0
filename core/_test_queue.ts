/**
 * Test helper: a queue state with a settable clock, applying one operation
 * at a time through the pure `applyBatch`.
 *
 * @module
 */
import { applyBatch, type BrokerOperation, type OperationReply } from "./apply.ts";
import { createState, decodeState, encodeState, type QueueState } from "./state.ts";
import type { OperationResults, QueueLimits } from "../protocol/operations.ts";

/** A state, a clock and one-operation helpers; subclass it for a test's own helpers. */
export class TestQueue {
  /** The state after the last operation. */
  state: QueueState = createState();
  /** The clock the next operation runs at. */
  now: number;
  /** Whether the last operation changed what is stored. */
  changed = false;
  readonly #roundTrip: boolean;
  #tokens = 0;

  /**
   * `now` is the starting clock; with `roundTrip`, every change goes through
   * the stored form (encode, decode), so a change that is not persisted shows.
   */
  constructor(options: { now: number; roundTrip?: boolean }) {
    this.now = options.now;
    this.#roundTrip = options.roundTrip ?? false;
  }

  /** Applies one operation; returns its reply. */
  run(operation: BrokerOperation, limits?: QueueLimits): OperationReply {
    const result = applyBatch(this.state, [operation], {
      now: this.now,
      defaultLeaseMs: 30_000,
      newToken: () => `secret-${++this.#tokens}`,
      random: () => 0.5,
      ...(limits === undefined ? {} : { limits }),
    });
    this.changed = result.changed;
    this.state = this.#roundTrip && result.changed
      ? decodeState(encodeState(result.state))
      : result.state;
    return result.replies[0];
  }

  /** Applies one operation that must succeed; returns its value. */
  ok<K extends keyof OperationResults>(
    operation: BrokerOperation & { op: K },
  ): OperationResults[K] {
    const reply = this.run(operation);
    if (!reply.ok) throw reply.error;
    return reply.value as OperationResults[K];
  }
}
