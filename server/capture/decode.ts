// Decodes struct pktpath_event records (bpf/pktpath.h) into RawEvents, at the offsets the compiled
// object's BTF gives (layout.ts). Pure apart from its own caches: no I/O.
import type { FragmentInfo, NetfilterStep, OuterHeader, PacketInfo, RawEvent } from "../../shared/types.ts";
import { RECORDS_LOST } from "../../shared/gaps.ts";
import { dropReasonName, ipText, protoName, tcpFlagsText } from "./addr.ts";
import type { RecordLayout } from "./layout.ts";

export { dropReasonName, ipv4Text, ipv6Text, protoName } from "./addr.ts";

/** What a netfilter observer record stands for, as the loader that placed the observers knows it. */
export interface NetfilterResolver {
  /** The chain(s) passed before observer `index` (> 0) of a hook in a namespace. */
  step(netns: number, pf: number, hook: number, index: number): { netfilter: NetfilterStep; natKind?: string } | undefined;
  /** The chain that dropped a packet whose last observer at that hook was `index`: its step, and
   * its name as a rule ("inet filter forward"). */
  drop(netns: number, pf: number, hook: number, index: number): { rule: string; netfilter: NetfilterStep } | undefined;
}

export interface DecodeContext {
  /** bpf_ktime_get_ns() (CLOCK_MONOTONIC) at capture start; tNs counts from here */
  startKtimeNs: bigint;
  /** enum skb_drop_reason of the running kernel, without the SKB_DROP_REASON_ prefix */
  dropReasons: ReadonlyMap<number, string>;
  /** kernel text address → "func+0xoff" */
  symbolize?: (addr: bigint) => string | undefined;
  netfilter?: NetfilterResolver;
}

const NFPROTO_IPV4 = 2;
const NF_HOOK_NAMES = ["prerouting", "input", "forward", "output", "postrouting"];
/** The function whose NF_HOOK call each hook is: the stack step the hook stands for. */
const STACK_STEPS: Record<number, readonly string[]> = {
  2: ["ip_rcv", "ip_local_deliver", "ip_forward", "__ip_local_out", "ip_output"],
  10: ["ipv6_rcv", "ip6_input", "ip6_forward", "ip6_local_out", "ip6_output"],
};
/** br_netfilter's functions that run each IP hook for a bridged frame. */
const BRIDGED_STEPS: readonly string[] = ["br_nf_pre_routing", "br_nf_local_in", "br_nf_forward_ip", "br_nf_local_out", "br_nf_post_routing"];
const FRAG_IS = 1, FRAG_MORE = 2;
const REC_NEW_SKB = 1;
const NUD_STATES: readonly [number, string][] = [[0x01, "INCOMPLETE"], [0x02, "REACHABLE"], [0x04, "STALE"],
  [0x08, "DELAY"], [0x10, "PROBE"], [0x20, "FAILED"], [0x40, "NOARP"], [0x80, "PERMANENT"]];

export function nudStateName(state: number): string {
  return NUD_STATES.filter(([bit]) => state & bit).map(([, n]) => n).join("|") || "NONE";
}

export function hookName(hook: number): string {
  return NF_HOOK_NAMES[hook] ?? `hook${hook}`;
}

export function stackStepName(pf: number, hook: number): string {
  return STACK_STEPS[pf]?.[hook] ?? `nf_${pf === NFPROTO_IPV4 ? "ipv4" : `pf${pf}`}_${hookName(hook)}`;
}

/** Names the chain that dropped ev, when the resolver knows it; whether it did. */
export function resolveDrop(ev: RawEvent, at: Omit<UnresolvedDrop, "event">, resolver: NetfilterResolver | undefined): boolean {
  const drop = resolver?.drop(at.netns, at.pf, at.hook, at.index);
  if (!drop) return false;
  ev.rule = drop.rule;
  ev.netfilter = drop.netfilter;
  return true;
}

/** What the pkt and aux headers of one record say, decoded once per distinct bytes. */
interface Headers {
  packet?: PacketInfo;
  outer?: OuterHeader;
  ttl?: number;
  fragment?: FragmentInfo;
  neighbour?: { address: string; state: string };
}

/** Whether the words of `all` from `from` are those of `b`. */
function sameWords(all: Int32Array, from: number, b: Int32Array): boolean {
  for (let i = 0; i < b.length; i++) if (all[from + i] !== b[i]) return false;
  return true;
}

const SEEN_HEADERS = 4096;

const RINGBUF_BUSY = 0x80000000;
const RINGBUF_DISCARD = 0x40000000;
const RINGBUF_HDR = 8;

/** A netfilter drop whose chain the observers' plan does not know (chains added since it was made). */
export interface UnresolvedDrop {
  event: RawEvent;
  netns: number;
  pf: number;
  hook: number;
  index: number;
}

export interface RingDecodeResult {
  events: RawEvent[];
  /** records that were not a pktpath_event (wrong size or unknown kind) */
  malformed: number;
  /** netfilter drops to name once the namespace's chains are looked at again */
  unresolved: UnresolvedDrop[];
  /** of the events, reports of records lost (no packet's records: the kernel counted those it lost) */
  reports: number;
}

export class RecordDecoder {
  private readonly o: RecordLayout["ev"];
  private readonly p: RecordLayout["pkt"];
  private readonly kinds: (string | undefined)[] = [];
  private readonly aux: (string | undefined)[] = [];
  private readonly startHi: number;
  private readonly startLo: number;
  // Records mostly carry headers seen just before (the hops of one skb, a flow's packets, a request
  // and its reply in turn): the Headers decoded from the same bytes are handed out again, the same
  // objects, so that comparing them downstream (samePacket) is mostly an identity check. Nothing
  // downstream changes them.
  private readonly headerWords: number;
  private readonly lastWords: Int32Array;
  private lastHeaders: Headers = {};
  // Up to SEEN_HEADERS distinct headers: their words side by side in one array, their slot by hash.
  private readonly seenSlot = new Map<number, number>();
  private readonly seenWords: Int32Array;
  private readonly seenObjects: Headers[] = [];
  private seenNext = 0;
  private readonly skbText = new Map<number, { hi: number; text: string }>();
  private readonly okfnText = new Map<number, { hi: number; text: string }>();
  private readonly names = new Map<number, { w0: number; w1: number; w2: number; w3: number; text: string }>();
  private unresolved: UnresolvedDrop[] = [];

  constructor(readonly layout: RecordLayout, private readonly ctx: DecodeContext) {
    this.o = layout.ev;
    this.p = layout.pkt;
    for (const [v, n] of layout.kinds) this.kinds[v] = n;
    for (const [v, n] of layout.auxKinds) this.aux[v] = n;
    this.startHi = Number(ctx.startKtimeNs >> 32n);
    this.startLo = Number(ctx.startKtimeNs & 0xffffffffn);
    this.headerWords = (this.o.ifname - this.o.pkt) / 4;
    this.lastWords = new Int32Array(this.headerWords).fill(-1);
    this.seenWords = new Int32Array(SEEN_HEADERS * this.headerWords);
  }

  /** One record at byte offset `at` of dv. undefined for an unknown kind. */
  decode(dv: DataView, at: number): RawEvent | undefined {
    const o = this.o;
    const kind = this.kinds[dv.getUint8(at + o.kind)];
    if (kind === undefined) return undefined;
    // ts - start in plain numbers: exact while the capture is shorter than 2^53 ns (104 days).
    const tNs = (dv.getUint32(at + o.ts_ns + 4, true) - this.startHi) * 0x100000000 + (dv.getUint32(at + o.ts_ns, true) - this.startLo);
    const skbaddr = this.hex64(dv, at + o.skbaddr), len = dv.getUint32(at + o.len, true);
    const ifname = this.name(dv, at + o.ifname);
    const ifindex = dv.getUint32(at + o.ifindex, true);
    const netns = dv.getUint32(at + o.netns_ino, true);
    const h = this.headers(dv, at);
    const packet = h.packet, ttl = h.ttl;
    let ev: RawEvent;
    // Most records have all of these: made in one literal, they are inside the object, not in a
    // property array grown as they are added one by one (two more allocations a record). The keys
    // come in the same order either way.
    if (ifname && ifindex && netns && packet && ttl !== undefined && !h.outer) {
      ev = { event: kind, tNs, skbaddr, len, ifname, ifindex, netns, packet, ttl };
    } else {
      ev = { event: kind, tNs, skbaddr, len };
      if (ifname) ev.ifname = ifname;
      if (ifindex) ev.ifindex = ifindex;
      if (netns) ev.netns = netns;
      if (packet) ev.packet = packet;
      if (h.outer) ev.outer = h.outer;
      if (ttl !== undefined) ev.ttl = ttl;
    }
    if (h.fragment) ev.fragment = h.fragment;
    if (dv.getUint32(at + o.clone_of, true) !== 0 || dv.getUint32(at + o.clone_of + 4, true) !== 0) ev.cloneOf = this.hex64(dv, at + o.clone_of);
    if (dv.getUint8(at + o.flags) & REC_NEW_SKB) ev.newSkb = true;
    switch (kind) {
      case "nf_hook": this.nfHook(dv, at, ev); break;
      case "rx_handler": this.rxHandler(dv, at, ev); break;
      case "neigh_queue":
        ev.event = "neigh_resolve_output";
        if (h.neighbour) ev.neighbour = h.neighbour;
        break;
      case "kfree_skb": this.free(dv, at, ev, true); break;
      case "consume_skb": this.free(dv, at, ev, false); break;
      case RECORDS_LOST: {
        // len records lost on one CPU, the first at `location` (a ktime), the last at ts_ns
        const lo = dv.getUint32(at + o.location, true), hi = dv.getUint32(at + o.location + 4, true);
        ev.lostFromNs = (hi - this.startHi) * 0x100000000 + (lo - this.startLo);
        break;
      }
    }
    return ev;
  }

  /**
   * The records in ring bytes, without decoding them: how many are of packets (reports of lost
   * records are not), and when the earliest and latest were made (a report's first loss included).
   */
  survey(buf: ArrayBuffer): { records: number; span?: { fromNs: number; toNs: number } } {
    const dv = new DataView(buf);
    let records = 0, fromNs = Infinity, toNs = -Infinity;
    const time = (at: number): number => (dv.getUint32(at + 4, true) - this.startHi) * 0x100000000 + (dv.getUint32(at, true) - this.startLo);
    for (let at = 0; at + RINGBUF_HDR <= buf.byteLength;) {
      const hdr = dv.getUint32(at, true);
      const len = hdr & ~(RINGBUF_BUSY | RINGBUF_DISCARD);
      if (hdr & RINGBUF_BUSY) break;
      const data = at + RINGBUF_HDR;
      if (!(hdr & RINGBUF_DISCARD) && len === this.layout.eventSize && data + len <= buf.byteLength) {
        const report = this.kinds[dv.getUint8(data + this.o.kind)] === RECORDS_LOST;
        if (!report) records++;
        const t = time(data + this.o.ts_ns), first = report ? time(data + this.o.location) : t;
        if (first < fromNs) fromNs = first;
        if (t > toNs) toNs = t;
      }
      at += (len + RINGBUF_HDR + 7) & ~7;
    }
    return fromNs <= toNs ? { records, span: { fromNs, toNs } } : { records };
  }

  /** Record bytes as the reader hands them over (server/capture/rings.ts), sorted by time. */
  decodeBytes(buf: ArrayBuffer): RingDecodeResult {
    const dv = new DataView(buf);
    // Room for every record the bytes can hold, made once: grown push by push, the array was copied
    // a dozen times a batch (bench/pipeline.ts). Cut to what was decoded at the end.
    const events: RawEvent[] = new Array<RawEvent>(Math.ceil(buf.byteLength / ((this.layout.eventSize + RINGBUF_HDR + 7) & ~7)));
    let count = 0;
    let malformed = 0, reports = 0;
    let sorted = true;
    let lastT = -Infinity;
    for (let at = 0; at + RINGBUF_HDR <= buf.byteLength;) {
      const hdr = dv.getUint32(at, true);
      const len = hdr & ~(RINGBUF_BUSY | RINGBUF_DISCARD);
      if (hdr & RINGBUF_BUSY) break; // the reader never copies past a busy record; be safe anyway
      const data = at + RINGBUF_HDR;
      if (!(hdr & RINGBUF_DISCARD)) {
        const ev = len === this.layout.eventSize && data + len <= buf.byteLength ? this.decode(dv, data) : undefined;
        if (ev) {
          if (ev.tNs < lastT) sorted = false;
          lastT = ev.tNs;
          if (ev.event === RECORDS_LOST) reports++;
          events[count++] = ev;
        } else malformed++;
      }
      at += (len + RINGBUF_HDR + 7) & ~7;
    }
    if (count !== events.length) events.length = count;
    if (!sorted) events.sort((a, b) => a.tNs - b.tNs);
    const unresolved = this.unresolved;
    this.unresolved = [];
    return { events, malformed, unresolved, reports };
  }

  /** A hook's continuation, named once per address: every stack step of every packet asks, from a handful of them. */
  private okfnName(dv: DataView, at: number): string {
    const lo = dv.getUint32(at, true), hi = dv.getUint32(at + 4, true);
    const known = this.okfnText.get(lo);
    if (known?.hi === hi) return known.text;
    const text = this.ctx.symbolize?.(dv.getBigUint64(at, true)) ?? "";
    this.okfnText.set(lo, { hi, text });
    return text;
  }

  private nfHook(dv: DataView, at: number, ev: RawEvent): void {
    const o = this.o;
    const pf = dv.getUint8(at + o.nf_pf), hook = dv.getUint8(at + o.nf_hook), index = dv.getUint8(at + o.nf_index);
    const to = this.name(dv, at + o.ifname2);
    if (to) ev.toIfname = to;
    if (index === 0) {
      // br_netfilter runs the IP hooks for bridged frames (bridge-nf-call-iptables): no routing step,
      // whatever the hook; its continuation (okfn) tells.
      const okfn = this.okfnName(dv, at + o.location);
      ev.event = okfn.startsWith("br_nf_") ? BRIDGED_STEPS[hook] ?? stackStepName(pf, hook) : stackStepName(pf, hook);
      return;
    }
    const step = ev.netns !== undefined ? this.ctx.netfilter?.step(ev.netns, pf, hook, index) : undefined;
    ev.event = step?.netfilter.family.startsWith("ip") && step.netfilter.family.endsWith("tables") ? "ipt_do_table" : "nft_do_chain";
    ev.netfilter = step?.netfilter ?? { family: pf === NFPROTO_IPV4 ? "ip" : "ip6", table: "?", chain: "?", hook: hookName(hook), verdict: "accept" };
    if (step?.natKind) ev.natKind = step.natKind;
  }

  private rxHandler(dv: DataView, at: number, ev: RawEvent): void {
    const handler = dv.getBigUint64(at + this.o.location, true);
    const sym = this.ctx.symbolize?.(handler);
    ev.event = sym ? sym.replace(/\+0x[0-9a-f]+$/, "") : "rx_handler";
    const to = this.name(dv, at + this.o.ifname2);
    if (to) ev.toIfname = to;
  }

  private free(dv: DataView, at: number, ev: RawEvent, dropped: boolean): void {
    const o = this.o;
    if (dropped) {
      const value = dv.getUint32(at + o.drop_reason, true);
      ev.dropReason = dropReasonName(value, this.ctx.dropReasons);
      const pf = dv.getUint8(at + o.nf_pf);
      const nfNetns = dv.getUint32(at + o.nf_netns, true);
      if (pf !== 0 && ev.dropReason === "NETFILTER_DROP") {
        const place = { netns: nfNetns, pf, hook: dv.getUint8(at + o.nf_hook), index: dv.getUint8(at + o.nf_index) };
        if (!resolveDrop(ev, place, this.ctx.netfilter)) this.unresolved.push({ event: ev, ...place });
      }
    }
    if (dv.getUint32(at + o.location, true) !== 0 || dv.getUint32(at + o.location + 4, true) !== 0) {
      const location = dv.getBigUint64(at + o.location, true);
      ev.location = this.ctx.symbolize?.(location) ?? `0x${location.toString(16)}`;
    }
  }

  private headers(dv: DataView, at: number): Headers {
    const base = at + this.o.pkt, words = this.lastWords;
    let same = true, hash = 0x811c9dc5;
    for (let i = 0; i < this.headerWords; i++) {
      const w = dv.getInt32(base + 4 * i, true);
      if (w !== words[i]) {
        same = false;
        words[i] = w;
      }
      hash = Math.imul(hash ^ w, 0x01000193);
    }
    if (same) return this.lastHeaders;
    const n = this.headerWords;
    const slot = this.seenSlot.get(hash);
    if (slot !== undefined && sameWords(this.seenWords, slot * n, words)) return (this.lastHeaders = this.seenObjects[slot]!);
    this.lastHeaders = this.decodeHeaders(dv, at);
    // Full: forgotten all at once, and filled again from the first slot. A slot's words are always
    // those its object was decoded from, so a hash that comes again only misses.
    if (this.seenNext >= SEEN_HEADERS) {
      this.seenSlot.clear();
      this.seenNext = 0;
    }
    const next = this.seenNext++;
    this.seenWords.set(words, next * n);
    this.seenObjects[next] = this.lastHeaders;
    this.seenSlot.set(hash, next);
    return this.lastHeaders;
  }

  private decodeHeaders(dv: DataView, at: number): Headers {
    const pkt = at + this.o.pkt, aux = at + this.o.aux;
    const h: Headers = {};
    const auxKind = this.aux[dv.getUint8(aux + this.p.aux_kind)] ?? "none";
    if (auxKind === "neigh") {
      const fam = dv.getUint8(aux + this.p.family) === 6 ? 6 : 4;
      h.neighbour = { address: ipText(dv, aux + this.p.daddr, fam), state: nudStateName(dv.getUint8(aux + this.p.ttl)) };
      return h;
    }
    const packet = this.packetAt(dv, pkt);
    if (!packet) return h;
    h.packet = packet;
    h.ttl = dv.getUint8(pkt + this.p.ttl);
    const frag = dv.getUint8(pkt + this.p.frag);
    if (frag & FRAG_IS) h.fragment = { ipId: dv.getUint32(pkt + this.p.ip_id, true), offset: dv.getUint16(pkt + this.p.frag_off, true), more: (frag & FRAG_MORE) !== 0 };
    if (auxKind === "quoted") {
      const quoted = this.packetAt(dv, aux);
      if (quoted) packet.quoted = quoted;
    } else if (auxKind !== "none") {
      const outer = this.packetAt(dv, aux);
      if (outer) {
        h.outer = { kind: auxKind, src: outer.src, dst: outer.dst };
        const vni = dv.getUint32(aux + this.p.vni, true);
        if (vni || auxKind === "vxlan" || auxKind === "geneve") h.outer.vni = vni;
        if (outer.sport !== undefined) h.outer.sport = outer.sport;
        if (outer.dport !== undefined) h.outer.dport = outer.dport;
      }
    }
    return h;
  }

  /** The header of one struct pktpath_pkt at base, or undefined when it holds none. */
  private packetAt(dv: DataView, base: number): PacketInfo | undefined {
    const p = this.p;
    const family = dv.getUint8(base + p.family);
    if (family !== 4 && family !== 6) return undefined;
    const l4 = dv.getUint8(base + p.l4proto);
    const packet: PacketInfo = { family, proto: protoName(l4), src: ipText(dv, base + p.saddr, family), dst: ipText(dv, base + p.daddr, family) };
    if (dv.getUint16(base + p.frag_off, true) !== 0) return packet; // a later fragment: no transport header
    if ((l4 === 1 && family === 4) || (l4 === 58 && family === 6)) {
      packet.icmp = { type: dv.getUint8(base + p.icmp_type), id: dv.getUint16(base + p.sport, true), seq: dv.getUint16(base + p.dport, true) };
      const code = dv.getUint8(base + p.icmp_code);
      if (code) packet.icmp.code = code;
    } else if (l4 === 6 || l4 === 17) {
      packet.sport = dv.getUint16(base + p.sport, true);
      packet.dport = dv.getUint16(base + p.dport, true);
      const flags = dv.getUint8(base + p.tcp_flags);
      if (l4 === 6 && flags) packet.tcpFlags = tcpFlagsText(flags);
      if (l4 === 17 && (packet.sport === 53 || packet.dport === 53)) packet.dnsId = dv.getUint16(base + p.dns_id, true);
    }
    return packet;
  }

  /** Interface names are short ASCII (the kernel allows no more); NUL-terminated within 16 bytes.
   * A host has few of them: each is spelled once and found again by its four words. */
  private name(dv: DataView, at: number): string {
    const w0 = dv.getInt32(at, true);
    if (w0 === 0) return "";
    const w1 = dv.getInt32(at + 4, true), w2 = dv.getInt32(at + 8, true), w3 = dv.getInt32(at + 12, true);
    const key = (w0 ^ Math.imul(w1, 31) ^ Math.imul(w2, 961) ^ Math.imul(w3, 29791)) | 0;
    const known = this.names.get(key);
    if (known && known.w0 === w0 && known.w1 === w1 && known.w2 === w2 && known.w3 === w3) return known.text;
    let text = "";
    for (let i = 0; i < 16; i++) {
      const c = dv.getUint8(at + i);
      if (c === 0) break;
      text += String.fromCharCode(c);
    }
    if (this.names.size >= 4096) this.names.clear();
    this.names.set(key, { w0, w1, w2, w3, text });
    return text;
  }

  /** "0x" + lowercase hex of the u64 at `at`, without BigInt (this runs for every record). */
  private hex64(dv: DataView, at: number): string {
    const hi = dv.getUint32(at + 4, true);
    const lo = dv.getUint32(at, true);
    const hit = this.skbText.get(lo);
    if (hit?.hi === hi) return hit.text;
    const text = hi === 0 ? `0x${lo.toString(16)}` : `0x${hi.toString(16)}${lo.toString(16).padStart(8, "0")}`;
    if (this.skbText.size >= 65536) this.skbText.clear();
    this.skbText.set(lo, { hi, text });
    return text;
  }
}
