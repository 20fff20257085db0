/**
 * {@linkcode FrameBatcher}: the frames one end of a protocol-2 connection
 * sends in one turn of the event loop, joined into one JSON array frame at
 * the end of the turn (split where a frame would take it over a size). The
 * client's `Connection` batches its requests with it, the server's
 * `RpcOutbox` its replies and notifications.
 *
 * Pure module: no `Deno.*`, no `node:` imports.
 *
 * @module
 */

/** Options of {@linkcode FrameBatcher}. */
export interface FrameBatcherOptions<T> {
  /** Largest batch frame, in the unit of `size`. */
  maxSize: number;
  /** The size of one frame's text (bytes, or UTF-16 units). */
  size: (text: string) => number;
  /**
   * Sends one frame: a lone frame's text, a JSON array of several, or `[]`
   * after a {@linkcode FrameBatcher.nudge} of a turn that sent nothing;
   * `items` are what was added with the frames it carries.
   */
  send: (text: string, items: T[]) => void;
}

/** Joins the frames of one turn into batch frames. */
export class FrameBatcher<T> {
  readonly #options: FrameBatcherOptions<T>;
  #texts: string[] = [];
  #items: T[] = [];
  /** Size of the array frame the queued texts make (brackets and commas included). */
  #size = 1;
  #scheduled = false;
  #nudged = false;

  /** A batcher with nothing queued. */
  constructor(options: FrameBatcherOptions<T>) {
    this.#options = options;
  }

  /** Queues a frame for the end of this turn; one that would take the batch over `maxSize` starts the next. */
  add(text: string, item: T): void {
    const size = this.#options.size(text) + 1;
    if (this.#texts.length > 0 && this.#size + size > this.#options.maxSize) this.flush();
    this.#schedule();
    this.#texts.push(text);
    this.#items.push(item);
    this.#size += size;
  }

  /** Makes sure a frame leaves at the end of this turn: `[]` when nothing else does. */
  nudge(): void {
    this.#nudged = true;
    this.#schedule();
  }

  /** Sends what is queued now: alone when it is one frame, else as one array. */
  flush(): void {
    const texts = this.#texts;
    const items = this.#items;
    const nudged = this.#nudged;
    this.#nudged = false;
    if (texts.length === 0) {
      if (nudged) this.#options.send("[]", []);
      return;
    }
    this.#texts = [];
    this.#items = [];
    this.#size = 1;
    this.#options.send(texts.length === 1 ? texts[0] : `[${texts.join(",")}]`, items);
  }

  #schedule(): void {
    if (this.#scheduled) return;
    this.#scheduled = true;
    queueMicrotask(() => {
      this.#scheduled = false;
      this.flush();
    });
  }
}
