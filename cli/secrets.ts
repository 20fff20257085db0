/**
 * Where the CLI takes its secrets from: files and the environment, not the
 * command line (any local user sees a process's arguments in `ps`).
 *
 * @module
 */
import { InvalidError } from "@osqueue/osqueue";
import { parseTokensFile, type TokenGrant } from "@osqueue/osqueue/server";

/** Warning printed when a token is given on the command line. */
export const ARGV_TOKEN_WARNING =
  "warning: --token puts the secret on the command line, where any local user can read it (ps); use --token-file or the OSQUEUE_TOKEN environment variable";

/** Reads a single-token file: its content without surrounding whitespace; `invalid` when empty. */
export async function readTokenFile(path: string): Promise<string> {
  const token = (await Deno.readTextFile(path)).trim();
  if (token === "") throw new InvalidError(`--token-file ${path}: the file is empty`);
  if (/\s/.test(token)) throw new InvalidError(`--token-file ${path}: a token has no whitespace`);
  return token;
}

/** Flags and environment a broker's tokens come from. */
export interface BrokerTokenSources {
  /** `--token` (discouraged: visible in `ps`). */
  token?: string;
  /** `--token-file`: one admin token. */
  tokenFile?: string;
  /** `--tokens-file`: scoped tokens (JSON, see `parseTokensFile`). */
  tokensFile?: string;
  /** Reads an environment variable (default `Deno.env.get`). */
  env?: (name: string) => string | undefined;
  /** Prints a warning. */
  warn?: (line: string) => void;
}

/**
 * The broker's tokens: `--tokens-file` (or env `OSQUEUE_TOKENS_FILE`) for
 * scoped tokens, plus one admin token from `--token-file`, env
 * `OSQUEUE_TOKEN`, or (with a warning) `--token`. Empty when none is set.
 */
export async function loadBrokerTokens(sources: BrokerTokenSources): Promise<TokenGrant[]> {
  const env = sources.env ?? ((name: string) => Deno.env.get(name));
  const grants: TokenGrant[] = [];
  const tokensFile = sources.tokensFile ?? env("OSQUEUE_TOKENS_FILE");
  if (tokensFile !== undefined && tokensFile !== "") {
    try {
      grants.push(...parseTokensFile(await Deno.readTextFile(tokensFile)));
    } catch (error) {
      throw new InvalidError(`--tokens-file ${tokensFile}: ${(error as Error).message}`);
    }
  }
  const admin = await singleToken(sources, env);
  if (admin !== undefined) grants.push({ token: admin, role: "admin", name: "admin" });
  return grants;
}

/**
 * A client's token: `--token-file`, env `OSQUEUE_TOKEN`, or (with a warning)
 * `--token`; `undefined` when none is set.
 */
export function clientToken(
  sources: Pick<BrokerTokenSources, "token" | "tokenFile" | "env" | "warn">,
): Promise<string | undefined> {
  return singleToken(sources, sources.env ?? ((name: string) => Deno.env.get(name)));
}

async function singleToken(
  sources: Pick<BrokerTokenSources, "token" | "tokenFile" | "warn">,
  env: (name: string) => string | undefined,
): Promise<string | undefined> {
  if (sources.tokenFile !== undefined) return await readTokenFile(sources.tokenFile);
  if (sources.token !== undefined) {
    sources.warn?.(ARGV_TOKEN_WARNING);
    return sources.token;
  }
  const fromEnv = env("OSQUEUE_TOKEN");
  return fromEnv === undefined || fromEnv === "" ? undefined : fromEnv;
}
