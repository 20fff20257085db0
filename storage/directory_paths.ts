/**
 * Paths of a {@linkcode DirectoryStore}'s objects under its root: joined
 * without escaping the root, and checked for symbolic links planted inside
 * it.
 *
 * @module
 */
import { join, resolve, sep } from "node:path";
import { InvalidError } from "../errors.ts";
import { fsError, isMissing } from "./directory_files.ts";

/** Joins `names` under `root`, checking that the result stays inside it. */
export function resolveUnder(root: string, names: string[]): string {
  const path = resolve(root, ...names);
  if (path !== root && !path.startsWith(root + sep)) {
    throw new InvalidError(`key escapes the store root: ${path}`);
  }
  return path;
}

/**
 * Refuses (`invalid`) a path under `root` that goes through a symbolic link:
 * a link planted inside the store must not lead reads or writes outside it.
 * Checked with `lstat` before each operation (Deno has no `O_NOFOLLOW`), so a
 * link swapped in between is not caught; whoever can write into the root can
 * also corrupt the queue directly. Returns the last name's info, or `null`
 * when a name along the path is missing.
 */
export async function refuseSymlinks(
  root: string,
  path: string,
  key: string,
): Promise<Deno.FileInfo | null> {
  let current = root;
  let info: Deno.FileInfo | null = null;
  const names = namesBelow(root, path);
  if (names.length === 0) return await statOrNull(root, key); // the root itself may be a link
  for (const name of names) {
    current = join(current, name);
    try {
      info = await Deno.lstat(current);
    } catch (error) {
      if (isMissing(error)) return null;
      throw fsError(error, `check ${key}`);
    }
    if (info.isSymlink) throw symlinkRefused(key, current);
  }
  return info;
}

/** {@linkcode refuseSymlinks} with blocking calls. */
export function refuseSymlinksSync(root: string, path: string, key: string): Deno.FileInfo | null {
  let current = root;
  let info: Deno.FileInfo | null = null;
  const names = namesBelow(root, path);
  if (names.length === 0) return statOrNullSync(root, key); // the root itself may be a link
  for (const name of names) {
    current = join(current, name);
    try {
      info = Deno.lstatSync(current);
    } catch (error) {
      if (isMissing(error)) return null;
      throw fsError(error, `check ${key}`);
    }
    if (info.isSymlink) throw symlinkRefused(key, current);
  }
  return info;
}

/** The names of `path` below `root` (none for the root itself). */
function namesBelow(root: string, path: string): string[] {
  const rest = path.slice(root.length + 1);
  return rest === "" ? [] : rest.split(sep);
}

async function statOrNull(path: string, key: string): Promise<Deno.FileInfo | null> {
  try {
    return await Deno.stat(path);
  } catch (error) {
    if (isMissing(error)) return null;
    throw fsError(error, `check ${key}`);
  }
}

function statOrNullSync(path: string, key: string): Deno.FileInfo | null {
  try {
    return Deno.statSync(path);
  } catch (error) {
    if (isMissing(error)) return null;
    throw fsError(error, `check ${key}`);
  }
}

/** The error for a path that goes through the symbolic link at `path`. */
export function symlinkRefused(key: string, path: string): InvalidError {
  return new InvalidError(
    `${key}: refusing to follow the symbolic link ${path} inside the store root`,
  );
}
