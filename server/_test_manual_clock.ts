/** The manual {@linkcode ManualClock} for server tests (it lives in `testing/`). */
export { ManualClock } from "../testing/manual_clock.ts";
