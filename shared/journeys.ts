// Open journeys by skb address: one skb's life from its first hop to consume_skb / kfree_skb.
// The kernel reuses a freed skb's memory within microseconds (the echo reply often takes the request's
// address), so an address names a packet only between its first hop and its free (see cilium/pwru).
import { LruMap } from "./lru.ts";
import { isLifetimeEvent, type Hop, type Journey, type PacketInfo, type RawEvent } from "./types.ts";

/** What the journey table tells its owner, in the order things happen. */
export interface JourneySink {
  /** A journey ended: freed, replaced by another packet at its address, idle, evicted or flushed. */
  ended(journey: Journey): void;
  /** A journey learned its packet (the first hop that carried packet info). */
  identified(journey: Journey): void;
}

interface OpenJourney {
  journey: Journey;
  lastTNs: number;
}

export class JourneyTable {
  // Ordered by last activity (every hop makes its entry the newest): the oldest is the idlest.
  private readonly open = new LruMap<string, OpenJourney>();
  private nextId = 1;
  /** Journeys ended early because the table was full. */
  evicted = 0;

  constructor(
    private readonly idleNs: number,
    private readonly maxOpen: number,
  ) {}

  get size(): number {
    return this.open.size;
  }

  has(journey: Journey): boolean {
    return this.open.get(journey.skbaddr)?.journey === journey;
  }

  apply(ev: RawEvent, sink: JourneySink): void {
    if (isLifetimeEvent(ev.event)) {
      this.end(ev, sink);
      return;
    }
    let entry = this.open.get(ev.skbaddr);
    if (entry && (differentPacket(entry.journey, ev) || repeatsHop(entry.journey, ev))) {
      // Sources without lifetime events: the address was freed and reused without our seeing it.
      this.open.delete(ev.skbaddr);
      sink.ended(entry.journey);
      entry = undefined;
    }
    if (!entry) {
      if (this.open.size >= this.maxOpen) this.evictOldest(sink);
      entry = { journey: { id: `j-${this.nextId++}`, skbaddr: ev.skbaddr, hops: [] }, lastTNs: ev.tNs };
    }
    this.open.set(ev.skbaddr, entry);
    insertHop(entry.journey.hops, hopOf(ev));
    entry.lastTNs = Math.max(entry.lastTNs, ev.tNs);
    if (!entry.journey.packet && ev.packet) {
      entry.journey.packet = copyPacket(ev.packet);
      sink.identified(entry.journey);
    }
  }

  /** Ends the journeys with no event for longer than idleNs before nowNs, oldest first. */
  expire(nowNs: number, sink: JourneySink): void {
    for (let first = this.open.oldest(); first; first = this.open.oldest()) {
      const [addr, entry] = first;
      if (nowNs - entry.lastTNs <= this.idleNs) break;
      this.open.delete(addr);
      sink.ended(entry.journey);
    }
  }

  /** Ends every open journey, oldest first. */
  flush(sink: JourneySink): void {
    for (const entry of this.open.drain()) sink.ended(entry.journey);
  }

  private end(ev: RawEvent, sink: JourneySink): void {
    const entry = this.open.get(ev.skbaddr);
    // A free with no open journey is an skb we never saw on a hop: a socket's clone (raw_recvmsg,
    // raw_rcv), a netlink message, an ARP reply we were not shown. It is no journey.
    if (!entry) return;
    this.open.delete(ev.skbaddr);
    if (ev.event === "kfree_skb") {
      entry.journey.dropped = { reason: ev.dropReason ?? "unknown" };
      if (ev.location !== undefined) entry.journey.dropped.location = ev.location;
    }
    sink.ended(entry.journey);
  }

  private evictOldest(sink: JourneySink): void {
    const first = this.open.oldest();
    if (!first) return;
    const [addr, entry] = first;
    this.open.delete(addr);
    this.evicted++;
    sink.ended(entry.journey);
  }
}

function differentPacket(journey: Journey, ev: RawEvent): boolean {
  return ev.packet !== undefined && journey.packet !== undefined && !samePacket(journey.packet, ev.packet);
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
  const hop: Hop = { event: ev.event, ifname: ev.ifname || "?", tNs: ev.tNs, len: ev.len ?? 0 };
  if (ev.ifindex !== undefined) hop.ifindex = ev.ifindex;
  if (ev.netns !== undefined) hop.netns = ev.netns;
  if (ev.netnsName !== undefined) hop.netnsName = ev.netnsName;
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

export function samePacket(a: PacketInfo, b: PacketInfo): boolean {
  if (a.family !== b.family || a.proto !== b.proto || a.src !== b.src || a.dst !== b.dst) return false;
  if (a.sport !== b.sport || a.dport !== b.dport) return false;
  if (!a.icmp || !b.icmp) return a.icmp === b.icmp;
  return a.icmp.type === b.icmp.type && a.icmp.id === b.icmp.id && a.icmp.seq === b.icmp.seq;
}

function copyPacket(p: PacketInfo): PacketInfo {
  const copy: PacketInfo = { family: p.family, proto: p.proto, src: p.src, dst: p.dst };
  if (p.icmp) copy.icmp = { type: p.icmp.type, id: p.icmp.id, seq: p.icmp.seq };
  if (p.sport !== undefined) copy.sport = p.sport;
  if (p.dport !== undefined) copy.dport = p.dport;
  return copy;
}
