// The newest N final pings (journeys and hops included), in completion order, with O(1) lookup by id.
import { searchTextOf, textHasWords } from "../shared/search.ts";
import type { Ping } from "../shared/types.ts";

export interface SearchResult {
  /** up to the limit, newest first */
  pings: Ping[];
  /** how many of the store's pings match */
  matched: number;
}

export class PingStore {
  /** Ring buffer in completion order; `head` is where the next ping goes. */
  private readonly ring: (Ping | undefined)[];
  private head = 0;
  private readonly byId = new Map<string, Ping>();
  /** pings ever added, including evicted ones */
  total = 0;
  /** each held ping's search text, made on its first search (a ping does not change once stored) */
  private readonly texts = new WeakMap<Ping, string>();

  constructor(readonly capacity = 10_000) {
    if (!Number.isInteger(capacity) || capacity < 1) throw new RangeError("PingStore capacity must be a positive integer");
    this.ring = new Array<Ping | undefined>(capacity);
  }

  get size(): number {
    return this.byId.size;
  }

  add(pings: Iterable<Ping>): void {
    for (const ping of pings) {
      const evicted = this.ring[this.head];
      if (evicted !== undefined && this.byId.get(evicted.id) === evicted) this.byId.delete(evicted.id);
      this.ring[this.head] = ping;
      this.byId.set(ping.id, ping);
      this.head = (this.head + 1) % this.capacity;
      this.total++;
    }
  }

  get(id: string): Ping | undefined {
    return this.byId.get(id);
  }

  /** Up to `limit` pings, newest first. */
  newest(limit: number): Ping[] {
    const out: Ping[] = [];
    const n = Math.min(limit, this.capacity);
    for (let i = 1; i <= n; i++) {
      const ping = this.ring[(this.head - i + this.capacity) % this.capacity];
      if (ping === undefined) break;
      out.push(ping);
    }
    return out;
  }

  /** Every held ping matching all the words (see shared/search.ts), newest first; counts all matches. */
  search(words: readonly string[], limit: number): SearchResult {
    const pings: Ping[] = [];
    let matched = 0;
    for (let i = 1; i <= this.capacity; i++) {
      const ping = this.ring[(this.head - i + this.capacity) % this.capacity];
      if (ping === undefined) break;
      if (words.length > 0 && !textHasWords(this.textOf(ping), words)) continue;
      matched++;
      if (pings.length < limit) pings.push(ping);
    }
    return { pings, matched };
  }

  private textOf(ping: Ping): string {
    let text = this.texts.get(ping);
    if (text === undefined) {
      text = searchTextOf(ping);
      this.texts.set(ping, text);
    }
    return text;
  }
}
