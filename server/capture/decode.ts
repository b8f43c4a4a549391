// Decodes struct pktpath_event records (bpf/pktpath.h) into RawEvents. Pure: no I/O.
// EVENT_LAYOUT is checked against the compiled object's BTF by test/decode.test.ts.
import type { PacketInfo, RawEvent } from "../../shared/types.ts";

export interface FieldLayout {
  offset: number;
  size: number;
}

export const EVENT_SIZE = 104;

export const EVENT_LAYOUT: Record<string, FieldLayout> = {
  ts_ns: { offset: 0, size: 8 },
  skbaddr: { offset: 8, size: 8 },
  location: { offset: 16, size: 8 },
  netns_ino: { offset: 24, size: 4 },
  ifindex: { offset: 28, size: 4 },
  len: { offset: 32, size: 4 },
  drop_reason: { offset: 36, size: 4 },
  kind: { offset: 40, size: 1 },
  family: { offset: 41, size: 1 },
  l4proto: { offset: 42, size: 1 },
  icmp_type: { offset: 43, size: 1 },
  icmp_id: { offset: 44, size: 2 },
  icmp_seq: { offset: 46, size: 2 },
  sport: { offset: 48, size: 2 },
  dport: { offset: 50, size: 2 },
  pad: { offset: 52, size: 4 },
  saddr: { offset: 56, size: 16 },
  daddr: { offset: 72, size: 16 },
  ifname: { offset: 88, size: 16 },
};

/** enum pktpath_event_kind: value → tracepoint name (the enumerator is PKTPATH_EV_ + upper case). */
export const EVENT_KINDS: ReadonlyMap<number, string> = new Map([
  [1, "net_dev_queue"],
  [2, "net_dev_xmit"],
  [3, "netif_rx"],
  [4, "netif_receive_skb"],
  [5, "napi_gro_receive_entry"],
  [6, "kfree_skb"],
  [7, "consume_skb"],
]);

export interface DecodeContext {
  /** bpf_ktime_get_ns() (CLOCK_MONOTONIC) at capture start; tNs counts from here */
  startKtimeNs: bigint;
  /** enum skb_drop_reason of the running kernel, without the SKB_DROP_REASON_ prefix */
  dropReasons: ReadonlyMap<number, string>;
  /** kernel text address → "func+0xoff" */
  symbolize?: (addr: bigint) => string | undefined;
}

/** EVENT_KINDS as an array indexed by kind, for the per-record path. */
const KIND_NAMES: (string | undefined)[] = [];
for (const [value, name] of EVENT_KINDS) KIND_NAMES[value] = name;

// The capture's start time split into 32-bit words once, not with BigInt shifts for every record.
let startKey = -1n;
let startSplit: [number, number] = [0, 0];
function startWords(start: bigint): [number, number] {
  if (start !== startKey) {
    startKey = start;
    startSplit = [Number(start >> 32n), Number(start & 0xffffffffn)];
  }
  return startSplit;
}

const off = (name: string): number => EVENT_LAYOUT[name]?.offset ?? 0;

const PROTO_NAMES: ReadonlyMap<number, string> = new Map([[1, "icmp"], [58, "icmpv6"], [6, "tcp"], [17, "udp"]]);

export function protoName(n: number): string {
  return PROTO_NAMES.get(n) ?? String(n);
}

export function ipv4Text(b: Uint8Array): string {
  return `${b[0]}.${b[1]}.${b[2]}.${b[3]}`;
}

/** RFC 5952: lowercase, no leading zeros, the longest run (≥2) of zero groups as "::", first if tied. */
export function ipv6Text(b: Uint8Array): string {
  const groups: number[] = [];
  for (let i = 0; i < 16; i += 2) groups.push(((b[i] ?? 0) << 8) | (b[i + 1] ?? 0));
  const mapped = groups.slice(0, 5).every((g) => g === 0) && groups[5] === 0xffff;
  if (mapped) return `::ffff:${ipv4Text(b.subarray(12))}`;
  let bestAt = -1;
  let bestLen = 1;
  for (let i = 0; i < 8;) {
    if (groups[i] !== 0) { i++; continue; }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLen) { bestAt = i; bestLen = j - i; }
    i = j;
  }
  const hex = (gs: number[]): string => gs.map((g) => g.toString(16)).join(":");
  if (bestAt < 0) return hex(groups);
  return `${hex(groups.slice(0, bestAt))}::${hex(groups.slice(bestAt + bestLen))}`;
}

export function dropReasonName(value: number, reasons: ReadonlyMap<number, string>): string {
  const name = reasons.get(value);
  if (name !== undefined) return name;
  // Values above 0xffff belong to a subsystem's own reason list (enum skb_drop_reason_subsys).
  return value > 0xffff ? `SUBSYS_${value >>> 16}_${value & 0xffff}` : String(value);
}

// Offsets by name once, so the per-record path does no lookups.
const O = {
  ts: off("ts_ns"), skb: off("skbaddr"), loc: off("location"), netns: off("netns_ino"), ifindex: off("ifindex"),
  len: off("len"), reason: off("drop_reason"), kind: off("kind"), family: off("family"), l4: off("l4proto"),
  icmpType: off("icmp_type"), icmpId: off("icmp_id"), icmpSeq: off("icmp_seq"), sport: off("sport"),
  dport: off("dport"), saddr: off("saddr"), daddr: off("daddr"), ifname: off("ifname"),
};

/** Interface names are short ASCII (the kernel allows no more); NUL-terminated within 16 bytes. */
function ifnameText(dv: DataView, at: number): string {
  let out = "";
  for (let i = 0; i < 16; i++) {
    const c = dv.getUint8(at + i);
    if (c === 0) break;
    out += String.fromCharCode(c);
  }
  return out;
}

// A capture sees few interfaces: the text of each name is made once, keyed by its first 8 bytes and
// checked against the other 8, so a renamed interface is read afresh.
const ifnameCache = new Map<number, { tail: number; tail2: number; head2: number; text: string }>();
function ifnameAt(dv: DataView, at: number): string {
  const head = dv.getUint32(at, true);
  if (head === 0) return "";
  const head2 = dv.getUint32(at + 4, true);
  const tail = dv.getUint32(at + 8, true);
  const tail2 = dv.getUint32(at + 12, true);
  const key = head * 0x100000 + (head2 & 0xfffff);
  const hit = ifnameCache.get(key);
  if (hit !== undefined && hit.head2 === head2 && hit.tail === tail && hit.tail2 === tail2) return hit.text;
  const text = ifnameText(dv, at);
  if (ifnameCache.size >= 4096) ifnameCache.clear();
  ifnameCache.set(key, { head2, tail, tail2, text });
  return text;
}

// A capture sees few distinct addresses; their text is made once.
const v4Cache = new Map<number, string>();
function ipv4At(dv: DataView, at: number): string {
  const key = dv.getUint32(at, false);
  let text = v4Cache.get(key);
  if (text === undefined) {
    text = ipv4Text(new Uint8Array(dv.buffer, dv.byteOffset + at, 4));
    if (v4Cache.size < 65536) v4Cache.set(key, text);
  }
  return text;
}

function ipAt(dv: DataView, at: number, family: 4 | 6): string {
  return family === 4 ? ipv4At(dv, at) : ipv6Text(new Uint8Array(dv.buffer, dv.byteOffset + at, 16));
}

// Consecutive records mostly carry the same headers (the hops of one skb, a flow's packets): the
// last record's PacketInfo is handed out again when the header bytes match. Nothing downstream
// changes a PacketInfo, so sharing it is safe.
// The words from kind up to ifname: family..dport, pad (always 0), saddr, daddr.
const PACKET_WORDS = Array.from({ length: (O.ifname - O.kind) / 4 }, (_, i) => O.kind + 4 * i);
const lastPacketWords = new Array<number>(PACKET_WORDS.length).fill(-1);
let lastPacket: PacketInfo | undefined;

function packetAt(dv: DataView, at: number): PacketInfo | undefined {
  // records without headers (xmit, frees) leave the memo alone: they come between a packet's hops
  const family = dv.getUint8(at + O.family);
  if (family !== 4 && family !== 6) return undefined;
  let same = true;
  for (let i = 0; i < PACKET_WORDS.length; i++) {
    // the first word starts with the record's kind, which is not part of the packet
    const w = dv.getUint32(at + PACKET_WORDS[i]!, true) & (i === 0 ? 0xffffff00 : 0xffffffff);
    if (w !== lastPacketWords[i]) {
      same = false;
      lastPacketWords[i] = w;
    }
  }
  if (!same) lastPacket = decodePacket(dv, at);
  return lastPacket;
}

function decodePacket(dv: DataView, at: number): PacketInfo | undefined {
  const family = dv.getUint8(at + O.family);
  if (family !== 4 && family !== 6) return undefined;
  const l4 = dv.getUint8(at + O.l4);
  const packet: PacketInfo = { family, proto: protoName(l4), src: ipAt(dv, at + O.saddr, family), dst: ipAt(dv, at + O.daddr, family) };
  if (l4 === 1 || l4 === 58) {
    packet.icmp = { type: dv.getUint8(at + O.icmpType), id: dv.getUint16(at + O.icmpId, true), seq: dv.getUint16(at + O.icmpSeq, true) };
  } else if (l4 === 6 || l4 === 17) {
    packet.sport = dv.getUint16(at + O.sport, true);
    packet.dport = dv.getUint16(at + O.dport, true);
  }
  return packet;
}

// skb addresses come from slab caches and recur constantly: their text is kept by low word.
const skbCache = new Map<number, { hi: number; text: string }>();
// The last address seen, checked before the cache: the hops of one skb often follow each other.
let lastLo = -1;
let lastHi = -1;
let lastText = "";

/** "0x" + lowercase hex of the u64 at `at`, without BigInt (this runs for every record). */
function hex64(dv: DataView, at: number): string {
  const hi = dv.getUint32(at + 4, true);
  const lo = dv.getUint32(at, true);
  if (lo === lastLo && hi === lastHi) return lastText;
  const hit = skbCache.get(lo);
  let text: string;
  if (hit?.hi === hi) text = hit.text;
  else {
    text = hi === 0 ? `0x${lo.toString(16)}` : `0x${hi.toString(16)}${lo.toString(16).padStart(8, "0")}`;
    if (skbCache.size >= 65536) skbCache.clear();
    skbCache.set(lo, { hi, text });
  }
  [lastLo, lastHi, lastText] = [lo, hi, text];
  return text;
}

/** One record at byte offset at of dv (EVENT_SIZE bytes). undefined for an unknown kind. */
export function decodeEvent(dv: DataView, at: number, ctx: DecodeContext): RawEvent | undefined {
  const event = KIND_NAMES[dv.getUint8(at + O.kind)];
  if (event === undefined) return undefined;
  // ts - start in plain numbers: exact while the capture is shorter than 2^53 ns (104 days).
  const [startHi, startLo] = startWords(ctx.startKtimeNs);
  const tNs = (dv.getUint32(at + O.ts + 4, true) - startHi) * 0x100000000 + (dv.getUint32(at + O.ts, true) - startLo);
  const ev: RawEvent = { event, tNs, skbaddr: hex64(dv, at + O.skb), len: dv.getUint32(at + O.len, true) };
  const ifname = ifnameAt(dv, at + O.ifname);
  if (ifname) ev.ifname = ifname;
  const ifindex = dv.getUint32(at + O.ifindex, true);
  if (ifindex) ev.ifindex = ifindex;
  const netns = dv.getUint32(at + O.netns, true);
  if (netns) ev.netns = netns;
  const packet = packetAt(dv, at);
  if (packet) ev.packet = packet;
  if (event === "kfree_skb") ev.dropReason = dropReasonName(dv.getUint32(at + O.reason, true), ctx.dropReasons);
  if (dv.getUint32(at + O.loc, true) !== 0 || dv.getUint32(at + O.loc + 4, true) !== 0) {
    const location = dv.getBigUint64(at + O.loc, true);
    ev.location = ctx.symbolize?.(location) ?? `0x${location.toString(16)}`;
  }
  return ev;
}

const RINGBUF_BUSY = 0x80000000;
const RINGBUF_DISCARD = 0x40000000;
const RINGBUF_HDR = 8;

export interface RingDecodeResult {
  events: RawEvent[];
  /** records that were not a pktpath_event (wrong size or unknown kind) */
  malformed: number;
}

/**
 * Decodes record bytes as the reader hands them over (server/capture/rings.ts): the per-CPU ring
 * slots, framed like BPF ring buffer records, an 8-byte header (u32 len with the BUSY and DISCARD
 * bits, u32 unused) and data, each padded to 8 bytes. Events come back sorted by time; the reader
 * merges CPUs by time already, so a sort is rare (a record written by an interrupting program).
 */
export function decodeRingBytes(buf: ArrayBuffer, ctx: DecodeContext): RingDecodeResult {
  const dv = new DataView(buf);
  const events: RawEvent[] = [];
  let malformed = 0;
  let sorted = true;
  let lastT = -Infinity;
  for (let at = 0; at + RINGBUF_HDR <= buf.byteLength;) {
    const hdr = dv.getUint32(at, true);
    const len = hdr & ~(RINGBUF_BUSY | RINGBUF_DISCARD);
    if (hdr & RINGBUF_BUSY) break; // the reader never copies past a busy record; be safe anyway
    const data = at + RINGBUF_HDR;
    if (!(hdr & RINGBUF_DISCARD)) {
      const ev = len === EVENT_SIZE && data + len <= buf.byteLength ? decodeEvent(dv, data, ctx) : undefined;
      if (ev) {
        if (ev.tNs < lastT) sorted = false;
        lastT = ev.tNs;
        events.push(ev);
      } else malformed++;
    }
    at += (len + RINGBUF_HDR + 7) & ~7;
  }
  if (!sorted) events.sort((a, b) => a.tNs - b.tNs);
  return { events, malformed };
}
