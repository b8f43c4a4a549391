// The newest N final pings, or exchanges of other kinds (journeys and hops included), in completion
// order, with O(1) lookup by id. Pings and the rest are held apart, so a busy TCP or UDP flow never
// pushes the pings out.
import { searchTextOf, textHasWords } from "../shared/search.ts";
import type { Exchange, Ping } from "../shared/types.ts";

export interface SearchResult<T> {
  /** up to the limit, newest first */
  pings: T[];
  /** how many of the store's items match */
  matched: number;
}

class FinalStore<T extends Ping | Exchange> {
  /** Ring buffer in completion order; `head` is where the next item goes. */
  private readonly ring: (T | undefined)[];
  private head = 0;
  private readonly byId = new Map<string, T>();
  /** items ever added, including evicted ones */
  total = 0;
  /** each held item's search text, made on its first search (an item does not change once stored) */
  private readonly texts = new WeakMap<T, string>();

  constructor(readonly capacity = 10_000) {
    if (!Number.isInteger(capacity) || capacity < 1) throw new RangeError("store capacity must be a positive integer");
    this.ring = new Array<T | undefined>(capacity);
  }

  get size(): number {
    return this.byId.size;
  }

  add(pings: Iterable<T>): void {
    for (const ping of pings) {
      const evicted = this.ring[this.head];
      if (evicted !== undefined && this.byId.get(evicted.id) === evicted) this.byId.delete(evicted.id);
      this.ring[this.head] = ping;
      this.byId.set(ping.id, ping);
      this.head = (this.head + 1) % this.capacity;
      this.total++;
    }
  }

  get(id: string): T | undefined {
    return this.byId.get(id);
  }

  /** Up to `limit` pings, newest first. */
  newest(limit: number): T[] {
    const out: T[] = [];
    const n = Math.min(limit, this.capacity);
    for (let i = 1; i <= n; i++) {
      const ping = this.ring[(this.head - i + this.capacity) % this.capacity];
      if (ping === undefined) break;
      out.push(ping);
    }
    return out;
  }

  /** Every held ping matching all the words (see shared/search.ts), newest first; counts all matches. */
  search(words: readonly string[], limit: number): SearchResult<T> {
    const pings: T[] = [];
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

  private textOf(ping: T): string {
    let text = this.texts.get(ping);
    if (text === undefined) {
      text = searchTextOf(ping);
      this.texts.set(ping, text);
    }
    return text;
  }
}

/** The final pings (the icmp-echo exchanges). */
export class PingStore extends FinalStore<Ping> {}

/** The final exchanges of the other kinds: TCP and UDP. */
export class ExchangeStore extends FinalStore<Exchange> {}
