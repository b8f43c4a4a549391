// A map that remembers the order entries were last put in, with O(1) access to the oldest.
// Why not a plain Map: V8 leaves a hole for every deleted entry until it rehashes, and every new
// iterator walks the holes at the front, so "delete the oldest, add a newest" in a loop (a flood at
// the cap) became quadratic: 150,000 events took 2.6 s, 200,000 took 8 s.

interface Node<K, V> {
  key: K;
  value: V;
  prev: Node<K, V> | undefined;
  next: Node<K, V> | undefined;
}

export class LruMap<K, V> {
  private readonly nodes = new Map<K, Node<K, V>>();
  private head: Node<K, V> | undefined;
  private tail: Node<K, V> | undefined;

  get size(): number {
    return this.nodes.size;
  }

  get(key: K): V | undefined {
    return this.nodes.get(key)?.value;
  }

  has(key: K): boolean {
    return this.nodes.has(key);
  }

  /** Sets the value and makes the entry the newest. */
  set(key: K, value: V): void {
    const old = this.nodes.get(key);
    if (old) {
      // The same node moves to the newest end: this runs for every event of an open journey.
      old.value = value;
      if (old === this.tail) return;
      this.unlink(old);
      this.append(old);
      return;
    }
    const node: Node<K, V> = { key, value, prev: undefined, next: undefined };
    this.append(node);
    this.nodes.set(key, node);
  }

  delete(key: K): boolean {
    const node = this.nodes.get(key);
    if (!node) return false;
    this.unlink(node);
    this.nodes.delete(key);
    return true;
  }

  /** The oldest entry's key, if any; with oldestValue, what a sweep that runs per event reads (no array made). */
  oldestKey(): K | undefined {
    return this.head?.key;
  }

  oldestValue(): V | undefined {
    return this.head?.value;
  }

  /** The oldest entry, if any. */
  oldest(): [K, V] | undefined {
    return this.head ? [this.head.key, this.head.value] : undefined;
  }

  /** Removes and returns every entry, oldest first. */
  drain(): V[] {
    const out: V[] = [];
    for (let n = this.head; n; n = n.next) out.push(n.value);
    this.nodes.clear();
    this.head = this.tail = undefined;
    return out;
  }

  private append(node: Node<K, V>): void {
    node.prev = this.tail;
    node.next = undefined;
    if (this.tail) this.tail.next = node;
    else this.head = node;
    this.tail = node;
  }

  private unlink(node: Node<K, V>): void {
    if (node.prev) node.prev.next = node.next;
    else this.head = node.next;
    if (node.next) node.next.prev = node.prev;
    else this.tail = node.prev;
  }
}
