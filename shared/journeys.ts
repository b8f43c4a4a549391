// Open journeys by skb address: one skb's life from its first hop to consume_skb / kfree_skb,
// whatever happens to its header on the way (NAT rewrites it, a tunnel wraps it, reassembly makes it
// whole): each hop keeps the header it saw when that differs from the journey's first. The kernel
// reuses a freed skb's memory within microseconds (the echo reply often takes the request's address),
// so an address names a packet only between its first hop and its free (see cilium/pwru).
import { LruMap } from "./lru.ts";
import { isLifetimeEvent, type FragmentInfo, type Hop, type Journey, type PacketInfo, type RawEvent } from "./types.ts";

/**
 * Whether the source has lifetime events. Without them (perf trace of net:* alone) a changed header
 * or a second queueing on, or receipt from, the same device is taken for a new packet at a reused
 * address, and idleness ends a journey soon. Sources with lifetime events never guess. A text
 * capture may or may not have them: it guesses until its first lifetime event shows it has.
 */
export type ReuseGuess = "never" | "always" | "until-lifetime";

export interface JourneyTableOptions {
  /** a journey with no event for this long ends (a source with lifetime events) */
  idleNs: number;
  /** the same, for a source that guesses */
  guessIdleNs: number;
  /** open journeys kept at most; past it the oldest ends early */
  maxOpen: number;
  guessReuse: ReuseGuess;
  /** journey ids are this and a number */
  idPrefix: string;
  /** the wall-clock text of a tNs, when the source's clock is mapped */
  wallClock?: (tNs: number) => string | undefined;
}

/** What the table decided for an event or a tick, in the order things happened. */
export interface JourneyOutput {
  /** journeys that learned their first header */
  identified: Journey[];
  /** a journey seen with a header it had not had before */
  rewritten: { journey: Journey; packet: PacketInfo }[];
  /** a journey that became the first fragment of a packet (fragmented on its way: the others follow) */
  fragmented: { journey: Journey; packet: PacketInfo; fragment: FragmentInfo }[];
  /** journeys that ended: freed, replaced by another packet at their address, idle, evicted or flushed */
  ended: Journey[];
}

export function emptyJourneyOutput(): JourneyOutput {
  return { identified: [], rewritten: [], fragmented: [], ended: [] };
}

interface OpenJourney {
  journey: Journey;
  lastTNs: number;
  /** the distinct headers seen so far after the first (the journey's packet), if any */
  laterHeaders?: PacketInfo[];
  /** the header at the latest hop that had one */
  current?: PacketInfo;
  /** it has been the first fragment of a packet */
  firstFragment?: boolean;
}

export class JourneyTable {
  // Ordered by last activity (every hop makes its entry the newest): the oldest is the idlest.
  private readonly open = new LruMap<string, OpenJourney>();
  private nextId = 1;
  /** Journeys ended early because the table was full. */
  evicted = 0;

  constructor(private readonly opts: JourneyTableOptions) {}

  /** Ids from now on carry this prefix (a capture's own, so ids of two captures never meet). */
  setIdPrefix(prefix: string): void {
    this.opts.idPrefix = prefix;
  }

  get size(): number {
    return this.open.size;
  }

  /** How the source's journeys are told apart (see ReuseGuess). */
  setGuessReuse(mode: ReuseGuess): void {
    this.opts.guessReuse = mode;
  }

  private get guessing(): boolean {
    return this.opts.guessReuse !== "never";
  }

  apply(ev: RawEvent, out: JourneyOutput): void {
    if (isLifetimeEvent(ev.event)) {
      if (this.opts.guessReuse === "until-lifetime") this.opts.guessReuse = "never";
      this.end(ev, out);
      return;
    }
    let entry = this.open.get(ev.skbaddr);
    if (entry && (ev.newSkb || (this.guessing && (differentPacket(entry, ev) || repeatsHop(entry.journey, ev))))) {
      this.open.delete(ev.skbaddr);
      out.ended.push(entry.journey);
      entry = undefined;
    }
    if (!entry) entry = this.begin(ev, out);
    this.open.set(ev.skbaddr, entry);
    insertHop(entry.journey.hops, this.hopOf(entry, ev));
    entry.lastTNs = Math.max(entry.lastTNs, ev.tNs);
    this.learn(entry, ev, out);
  }

  /** Ends the journeys with no event for longer than idleNs before nowNs, oldest first. */
  expire(nowNs: number, out: JourneyOutput): void {
    const idleNs = this.guessing ? this.opts.guessIdleNs : this.opts.idleNs;
    for (let entry = this.open.oldestValue(); entry !== undefined; entry = this.open.oldestValue()) {
      if (nowNs - entry.lastTNs <= idleNs) break;
      this.open.delete(this.open.oldestKey()!);
      out.ended.push(entry.journey);
    }
  }

  /** Ends every open journey, oldest first. */
  flush(out: JourneyOutput): void {
    for (const entry of this.open.drain()) out.ended.push(entry.journey);
  }

  private begin(ev: RawEvent, out: JourneyOutput): OpenJourney {
    if (this.open.size >= this.opts.maxOpen) this.evictOldest(out);
    const journey: Journey = { id: `${this.opts.idPrefix}${this.nextId++}`, skbaddr: ev.skbaddr, hops: [] };
    const at = this.opts.wallClock?.(ev.tNs);
    if (at !== undefined) journey.at = at;
    if (ev.fragment) journey.fragment = ev.fragment;
    if (ev.cloneOf !== undefined) {
      const parent = this.open.get(ev.cloneOf);
      if (parent) journey.clonedFrom = parent.journey.id;
    }
    return { journey, lastTNs: ev.tNs };
  }

  /** The journey's first header, and each header it had not had before. */
  private learn(entry: OpenJourney, ev: RawEvent, out: JourneyOutput): void {
    const p = ev.packet;
    if (!p) return;
    entry.current = p;
    if (ev.fragment?.offset === 0 && !entry.firstFragment) {
      entry.firstFragment = true;
      out.fragmented.push({ journey: entry.journey, packet: p, fragment: ev.fragment });
    }
    const first = entry.journey.packet;
    if (first === undefined) {
      entry.journey.packet = p;
      out.identified.push(entry.journey);
      return;
    }
    if (p === first || samePacket(first, p)) return;
    // Indexed, not some() with a closure nor for-of (an iterator result each time): this runs for
    // every event. Most journeys keep their first header: the array is made for a second one.
    const later = entry.laterHeaders;
    if (later) for (let i = 0; i < later.length; i++) if (later[i] === p || samePacket(later[i]!, p)) return;
    if (later) later.push(p);
    else entry.laterHeaders = [p];
    out.rewritten.push({ journey: entry.journey, packet: p });
  }

  private hopOf(entry: OpenJourney, ev: RawEvent): Hop {
    const hop = hopOf(ev);
    const first = entry.journey.packet;
    if (ev.packet && first && ev.packet !== first && !samePacket(first, ev.packet)) hop.packet = ev.packet;
    // A chain that rewrites headers, where the header did change: that is its verdict.
    if (hop.netfilter && ev.natKind && ev.packet && entry.current && !samePacket(entry.current, ev.packet)) {
      hop.netfilter = { ...hop.netfilter, verdict: ev.natKind };
    }
    return hop;
  }

  private end(ev: RawEvent, out: JourneyOutput): void {
    let entry = this.open.get(ev.skbaddr);
    if (!entry) {
      // A free with no open journey is an skb we never saw on a hop. With a header (the kernel
      // program parses drops of skbs it never tracked) it is a packet that died before any hook
      // saw it, at the device and namespace of the free; without one it is no journey of ours.
      if (ev.event !== "kfree_skb" || !ev.packet) return;
      entry = this.begin(ev, out);
      insertHop(entry.journey.hops, hopOf(ev));
      this.learn(entry, ev, out);
    } else this.open.delete(ev.skbaddr);
    if (ev.event === "kfree_skb") {
      if (ev.netfilter) {
        const verdict = { ...hopOf(ev), event: chainEvent(ev.netfilter.family) };
        insertHop(entry.journey.hops, verdict);
      }
      entry.journey.dropped = { reason: ev.dropReason ?? "unknown" };
      if (ev.location !== undefined) entry.journey.dropped.location = ev.location;
      if (ev.rule !== undefined) entry.journey.dropped.rule = ev.rule;
    }
    out.ended.push(entry.journey);
  }

  private evictOldest(out: JourneyOutput): void {
    const first = this.open.oldest();
    if (!first) return;
    const [addr, entry] = first;
    this.open.delete(addr);
    this.evicted++;
    out.ended.push(entry.journey);
  }
}

/** The hop event of a netfilter chain's step: nftables' or a legacy iptables table's. */
export function chainEvent(family: string): string {
  return family.endsWith("tables") ? "ipt_do_table" : "nft_do_chain";
}

function differentPacket(entry: OpenJourney, ev: RawEvent): boolean {
  const first = entry.journey.packet;
  return ev.packet !== undefined && first !== undefined && !samePacket(first, ev.packet);
}

/** Events one skb passes at most once per device: queued for it, or received from it. */
const ONCE_PER_DEVICE = new Set(["net_dev_queue", "netif_rx", "netif_receive_skb"]);

/**
 * Without packet headers or lifetime events (perf trace of net:* alone), the hop order still tells:
 * an skb is not queued on, nor received from, the same device twice, so the second time is a new
 * packet at a reused address.
 */
function repeatsHop(journey: Journey, ev: RawEvent): boolean {
  if (!ONCE_PER_DEVICE.has(ev.event) || ev.ifname === undefined) return false;
  return journey.hops.some((h) => h.event === ev.event && h.ifname === ev.ifname && h.netns === ev.netns);
}

export function hopOf(ev: RawEvent): Hop {
  // "?" for a device a source could not name (an empty name too), 0 for an unknown length.
  const event = ev.event, ifname = ev.ifname || "?", tNs = ev.tNs, len = ev.len ?? 0;
  let hop: Hop;
  // The fields of a RawEvent a hop keeps, as they are (the header is decided by the table), field by
  // field rather than in a loop over their names: this runs for every event, and an access keyed by a
  // variable is several times slower (bench/pipeline.ts). A hop of a live capture mostly has the same
  // eight: made in one literal, they are all inside the object (added one by one, four of them took
  // a property array of their own: 13 MiB of the serve worker's heap under a flood). The keys come
  // in the same order either way.
  const ifindex = ev.ifindex, netns = ev.netns, ttl = ev.ttl;
  if (ifindex !== undefined && netns !== undefined && ttl !== undefined && ev.outer === undefined && ev.netfilter === undefined) {
    const netnsName = ev.netnsName;
    hop = netnsName !== undefined
      ? { event, ifname, tNs, len, ifindex, netns, netnsName, ttl }
      : { event, ifname, tNs, len, ifindex, netns, ttl };
  } else {
    hop = { event, ifname, tNs, len };
    if (ifindex !== undefined) hop.ifindex = ifindex;
    if (netns !== undefined) hop.netns = netns;
    if (ev.netnsName !== undefined) hop.netnsName = ev.netnsName;
    if (ev.outer !== undefined) hop.outer = ev.outer;
    if (ev.netfilter !== undefined) hop.netfilter = ev.netfilter;
    if (ttl !== undefined) hop.ttl = ttl;
  }
  if (ev.toIfname !== undefined) hop.toIfname = ev.toIfname;
  if (ev.fragment !== undefined) hop.fragment = ev.fragment;
  if (ev.neighbour !== undefined) hop.neighbour = ev.neighbour;
  return hop;
}

// Events arrive in time order from every source, nearly: the eBPF reader merges its per-CPU rings by
// timestamp up to the moment it reads, and a record still being written then comes a batch later. So
// a hop is appended in O(1) when it is the newest; otherwise its place is found by binary search (after
// any of the same time, so equal times keep their arrival order), not by walking back one by one, which
// made a capture whose times go backwards quadratic. splice() still moves the later hops: one memmove.
export function insertHop(hops: Hop[], hop: Hop): void {
  const last = hops[hops.length - 1];
  if (last === undefined || last.tNs <= hop.tNs) {
    hops.push(hop);
    return;
  }
  let lo = 0, hi = hops.length - 1;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if ((hops[mid]?.tNs ?? 0) <= hop.tNs) lo = mid + 1;
    else hi = mid;
  }
  hops.splice(lo, 0, hop);
}

/** Whether two headers say the same, field by field (whatever fields PacketInfo has). */
export function samePacket(a: PacketInfo, b: PacketInfo): boolean {
  return sameValue(a, b);
}

function sameValue(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== "object" || typeof b !== "object" || a === null || b === null) return false;
  const ka = Object.keys(a), kb = Object.keys(b);
  if (ka.length !== kb.length) return false;
  const ra = a as Record<string, unknown>, rb = b as Record<string, unknown>;
  return ka.every((k) => sameValue(ra[k], rb[k]));
}
