/**
 * How {@linkcode DirectoryStore} names files: key segments escaped into file
 * and directory names, and the walk that lists keys back from them. See the
 * store's module doc for the layout.
 *
 * @module
 */
import { join } from "node:path";
import { isMissing } from "./directory_files.ts";

/** The longest escaped name piece before a segment is split over `~+` directories. */
const MAX_NAME_CHARS = 128;
/** Ends the name of an object's file. */
export const OBJECT_SUFFIX = "~o";
/** Ends the name of a directory continuing a long segment. */
export const CONTINUED_SUFFIX = "~+";

const encoder = new TextEncoder();
const strictDecoder = new TextDecoder("utf-8", { fatal: true });

/** The names, from the root down, of the file that holds `key` (already validated). */
export function objectNames(key: string): string[] {
  const segments = key.split("/");
  const last = segments.pop()!;
  const names = segments.flatMap((segment) => directoryNames(segment));
  const pieces = escapeSegment(last);
  const file = pieces.pop()! + OBJECT_SUFFIX;
  return [...names, ...pieces.map((piece) => piece + CONTINUED_SUFFIX), file];
}

/** Escapes one byte; a `.` is escaped when it would start a name. */
function escapeByte(byte: number, first: boolean): string {
  const literal = (byte >= 0x61 && byte <= 0x7a) || (byte >= 0x30 && byte <= 0x39) ||
    byte === 0x5f || byte === 0x2d || (byte === 0x2e && !first);
  return literal
    ? String.fromCharCode(byte)
    : `%${byte.toString(16).toUpperCase().padStart(2, "0")}`;
}

/** Escapes the bytes of one name piece. */
function escapeBytes(bytes: Uint8Array): string {
  let name = "";
  for (const byte of bytes) name += escapeByte(byte, name === "");
  return name;
}

/** Escapes a key segment into name pieces of at most {@linkcode MAX_NAME_CHARS} characters. */
function escapeSegment(segment: string): string[] {
  const pieces: string[] = [];
  let current = "";
  for (const byte of encoder.encode(segment)) {
    let unit = escapeByte(byte, current === "");
    if (current.length + unit.length > MAX_NAME_CHARS) {
      pieces.push(current);
      current = "";
      unit = escapeByte(byte, true);
    }
    current += unit;
  }
  pieces.push(current);
  return pieces;
}

/** The directory names of a key segment that is followed by more segments. */
export function directoryNames(segment: string): string[] {
  const pieces = escapeSegment(segment);
  const last = pieces.pop()!;
  return [...pieces.map((piece) => piece + CONTINUED_SUFFIX), last];
}

/** Decodes a name piece, or `null` when it is not one this store would write. */
function unescapeName(name: string): Uint8Array | null {
  const bytes: number[] = [];
  for (let i = 0; i < name.length; i++) {
    if (name[i] === "%") {
      const hex = name.slice(i + 1, i + 3);
      if (!/^[0-9A-F]{2}$/.test(hex)) return null;
      bytes.push(parseInt(hex, 16));
      i += 2;
    } else {
      const code = name.charCodeAt(i);
      if (code > 0x7f) return null;
      bytes.push(code);
    }
  }
  const decoded = new Uint8Array(bytes);
  return decoded.length > 0 && escapeBytes(decoded) === name ? decoded : null; // canonical only
}

function concatBytes(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, part) => n + part.length, 0));
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}

function decodeSegment(parts: Uint8Array[]): string | null {
  try {
    return strictDecoder.decode(concatBytes(parts));
  } catch {
    return null;
  }
}

/**
 * Collects the keys under `dir` into `keys`. `segments` are the decoded
 * segments above `dir`; `pending` the bytes of a segment continued in `dir`.
 */
export async function walk(
  dir: string,
  segments: string[],
  pending: Uint8Array[],
  keys: string[],
  signal: AbortSignal | undefined,
): Promise<void> {
  const entries: Deno.DirEntry[] = [];
  try {
    for await (const entry of Deno.readDir(dir)) entries.push(entry);
  } catch (error) {
    if (isMissing(error)) return;
    throw error;
  }
  signal?.throwIfAborted();
  for (const entry of entries) {
    const { name } = entry;
    if (entry.isFile && name.endsWith(OBJECT_SUFFIX)) {
      const bytes = unescapeName(name.slice(0, -OBJECT_SUFFIX.length));
      const segment = bytes && decodeSegment([...pending, bytes]);
      if (segment) keys.push([...segments, segment].join("/"));
    } else if (entry.isDirectory && name.endsWith(CONTINUED_SUFFIX)) {
      const bytes = unescapeName(name.slice(0, -CONTINUED_SUFFIX.length));
      if (bytes) await walk(join(dir, name), segments, [...pending, bytes], keys, signal);
    } else if (entry.isDirectory) {
      const bytes = unescapeName(name);
      const segment = bytes && decodeSegment([...pending, bytes]);
      if (segment) await walk(join(dir, name), [...segments, segment], [], keys, signal);
    }
  }
}
