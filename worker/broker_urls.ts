/**
 * {@linkcode BrokerUrls}: the brokers a client knows, which one it talks to
 * now, and which ones stopped answering lately ("suspects": hints that point
 * to them are not followed, and the other URLs are tried first).
 *
 * @module
 */
import { InvalidError } from "../errors.ts";
import { websocketUrl } from "./connection.ts";

/** Options of {@linkcode BrokerUrls}. */
export interface BrokerUrlsOptions {
  /** Every broker base URL, in the order to try them (duplicates are dropped). */
  urls: string[];
  /** How long a broker that stopped answering stays suspect, ms. */
  suspectMs: number;
  /** Current time, epoch ms. */
  clock: () => number;
}

/** The client's list of broker URLs, its place in it, and the brokers that stopped answering. */
export class BrokerUrls {
  #baseUrl: string;
  /** Every URL the client was given, tried in turn. */
  readonly #urls: string[];
  /** Index in `#urls` of the URL tried last. */
  #urlIndex = 0;
  /**
   * WebSocket URLs that stopped answering, with when: for `#suspectMs` after
   * that (or until a good connection) hints to them are not followed and the
   * other URLs are tried first.
   */
  readonly #suspects = new Map<string, number>();
  readonly #suspectMs: number;
  readonly #clock: () => number;

  /** Validates the URLs (`InvalidError` on a bad one) and starts at the first. */
  constructor(options: BrokerUrlsOptions) {
    const urls = options.urls;
    if (urls.length === 0) throw new InvalidError("a client needs a broker url (or urls)");
    for (const url of urls) websocketUrl(url); // validate early
    this.#urls = urls.filter((url, i) =>
      urls.findIndex((other) => websocketUrl(other) === websocketUrl(url)) === i
    );
    this.#baseUrl = this.#urls[0];
    this.#suspectMs = options.suspectMs;
    this.#clock = options.clock;
  }

  /** The broker base URL requests go to now. */
  get current(): string {
    return this.#baseUrl;
  }

  /** The WebSocket endpoint of {@linkcode BrokerUrls.current}. */
  get target(): string {
    return websocketUrl(this.#baseUrl);
  }

  /** How many distinct URLs the client was given. */
  get count(): number {
    return this.#urls.length;
  }

  /** Points the client at `url`, remembering its place in the URL list when it is there. */
  point(url: string): void {
    this.#baseUrl = url;
    const target = websocketUrl(url);
    const index = this.#urls.findIndex((candidate) => websocketUrl(candidate) === target);
    if (index >= 0) this.#urlIndex = index;
  }

  /** Moves on to the next URL of the list that has not just stopped answering (if any). */
  advance(): void {
    const count = this.#urls.length;
    let next = (this.#urlIndex + 1) % count;
    for (let step = 1; step <= count; step++) {
      const candidate = (this.#urlIndex + step) % count;
      if (!this.isSuspect(this.#urls[candidate])) {
        next = candidate;
        break;
      }
    }
    this.#urlIndex = next;
    this.#baseUrl = this.#urls[next];
  }

  /** Whether `url` stopped answering lately. */
  isSuspect(url: string): boolean {
    let target: string;
    try {
      target = websocketUrl(url);
    } catch {
      return false;
    }
    const since = this.#suspects.get(target);
    if (since === undefined) return false;
    if (this.#clock() - since < this.#suspectMs) return true;
    this.#suspects.delete(target);
    return false;
  }

  /** Marks the WebSocket endpoint `target` as having stopped answering now. */
  suspect(target: string): void {
    this.#suspects.set(target, this.#clock());
  }

  /** Forgets every suspect (after a good connection to the leader). */
  trustAll(): void {
    this.#suspects.clear();
  }

  /** Whether `url` names another broker than the current one (false for a bad URL). */
  differs(url: string): boolean {
    try {
      return websocketUrl(url) !== websocketUrl(this.#baseUrl);
    } catch {
      return false;
    }
  }
}
