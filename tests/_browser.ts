/**
 * Headless Chromium for the browser tests: Debian's `chromium` driven by
 * `playwright-core` (playwright's own browser download cannot work on these
 * machines). `.ci/run` installs the package; without it a test fails in CI
 * and is ignored elsewhere (see {@linkcode browserTestOptions}).
 *
 * @module
 */
import { type Browser, chromium } from "playwright-core";

/** Where Debian's chromium package puts the browser. */
export const CHROMIUM_PATH: string = Deno.env.get("OSQUEUE_CHROMIUM") ?? "/usr/bin/chromium";

/** Whether the browser is installed here. */
export function hasChromium(): boolean {
  try {
    return Deno.statSync(CHROMIUM_PATH).isFile;
  } catch {
    return false;
  }
}

/**
 * Options for a `Deno.test` that needs the browser: ignored when chromium is
 * missing, unless `CI` is set (CI must never skip it silently).
 */
export function browserTestOptions(): {
  ignore: boolean;
  sanitizeOps: false;
  sanitizeResources: false;
} {
  return {
    ignore: !hasChromium() && Deno.env.get("CI") === undefined,
    sanitizeOps: false,
    sanitizeResources: false,
  };
}

/**
 * Launches headless chromium with the flags this closed network needs (no
 * background networking, no sandbox as root, a fresh profile). Dispose it
 * with `await using`.
 */
export async function launchChromium(): Promise<Browser & AsyncDisposable> {
  const browser = await chromium.launch({
    executablePath: CHROMIUM_PATH,
    headless: true,
    args: [
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
  });
  return Object.assign(browser, {
    [Symbol.asyncDispose]: () => browser.close(),
  });
}

/** The folder screenshots go to (`test-output/`, ignored by git). */
export async function screenshotDir(): Promise<string> {
  const dir = new URL("../test-output/", import.meta.url).pathname;
  await Deno.mkdir(dir, { recursive: true });
  return dir;
}
