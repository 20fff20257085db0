/**
 * Test helper: a strict parser of the Prometheus text format.
 *
 * @module
 */
import assert from "node:assert/strict";

/** Parses Prometheus text: `name{labels}` → value; checks every line's syntax. */
export function parsePrometheus(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split("\n")) {
    if (line === "" || line.startsWith("# HELP ") || line.startsWith("# TYPE ")) continue;
    const match =
      /^([a-zA-Z_:][a-zA-Z0-9_:]*(?:\{(?:[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\]|\\.)*",?)*\})?) (\S+)$/
        .exec(line);
    assert.ok(match, `malformed line: ${line}`);
    out.set(match[1], match[2] === "+Inf" ? Infinity : Number(match[2]));
  }
  return out;
}
