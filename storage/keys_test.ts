import assert from "node:assert/strict";
import { InvalidError } from "../errors.ts";
import { MAX_KEY_BYTES, validateKey, validatePrefix } from "./keys.ts";

const GOOD_KEYS = [
  "a",
  "a/b",
  "state.json",
  "jobs/2024-01-01T00:00:00Z",
  "with space/ünïcødé/日本語/😀",
  "+=%~'@*?\"",
  "...",
  ".hidden",
  "..x",
  "a".repeat(MAX_KEY_BYTES),
  "é".repeat(MAX_KEY_BYTES / 2),
];

const BAD_KEYS: [string, string][] = [
  ["", "empty"],
  ["/x", "leading slash"],
  ["x/", "trailing slash"],
  ["a//b", "empty segment"],
  [".", "dot"],
  ["..", "dot-dot"],
  ["../x", "dot-dot segment"],
  ["a/./b", "dot segment"],
  ["a/..", "trailing dot-dot"],
  ["a\u0000b", "NUL"],
  ["a\nb", "newline"],
  ["a\u007fb", "DEL"],
  ["a\\b", "backslash"],
  ["lone\ud800", "lone high surrogate"],
  ["\udc00lone", "lone low surrogate"],
  ["a".repeat(MAX_KEY_BYTES + 1), "too long"],
  ["é".repeat(MAX_KEY_BYTES / 2) + "x", "too long in bytes"],
];

Deno.test("validateKey accepts good keys unchanged", () => {
  for (const key of GOOD_KEYS) assert.equal(validateKey(key), key);
});

Deno.test("validateKey rejects bad keys with InvalidError", () => {
  for (const [key, why] of BAD_KEYS) {
    assert.throws(() => validateKey(key), (error: unknown) => {
      assert.ok(error instanceof InvalidError, why);
      assert.equal(error.code, "invalid");
      return true;
    }, why);
  }
  assert.throws(() => validateKey(42 as unknown as string), InvalidError);
});

Deno.test("validatePrefix accepts empty, keys, key/ and partial last segments", () => {
  for (const prefix of ["", "a", "a/", "a/b/", "jobs/2024-", "a/.", "a/..", ".", "..", "x y/é"]) {
    assert.equal(validatePrefix(prefix), prefix);
  }
  for (const key of GOOD_KEYS) assert.equal(validatePrefix(key), key);
});

Deno.test("validatePrefix rejects bad complete segments and characters", () => {
  const bad = [
    "/",
    "/x",
    "a//",
    "a//b",
    "./",
    "../",
    "a/../b",
    "a/./",
    "a\u0001",
    "a\\",
    "a\ud800",
    "a".repeat(MAX_KEY_BYTES + 1),
  ];
  for (const prefix of bad) {
    assert.throws(() => validatePrefix(prefix), InvalidError, JSON.stringify(prefix));
  }
});
