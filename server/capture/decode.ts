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

function cString(bytes: Uint8Array): string {
  const end = bytes.indexOf(0);
  return new TextDecoder().decode(end < 0 ? bytes : bytes.subarray(0, end));
}

function decodePacket(dv: DataView, at: number): PacketInfo | undefined {
  const family = dv.getUint8(at + off("family"));
  if (family !== 4 && family !== 6) return undefined;
  const addrBytes = (name: string): Uint8Array =>
    new Uint8Array(dv.buffer, dv.byteOffset + at + off(name), family === 4 ? 4 : 16);
  const text = family === 4 ? ipv4Text : ipv6Text;
  const l4 = dv.getUint8(at + off("l4proto"));
  const packet: PacketInfo = { family, proto: protoName(l4), src: text(addrBytes("saddr")), dst: text(addrBytes("daddr")) };
  if (l4 === 1 || l4 === 58) {
    packet.icmp = {
      type: dv.getUint8(at + off("icmp_type")),
      id: dv.getUint16(at + off("icmp_id"), true),
      seq: dv.getUint16(at + off("icmp_seq"), true),
    };
  } else if (l4 === 6 || l4 === 17) {
    packet.sport = dv.getUint16(at + off("sport"), true);
    packet.dport = dv.getUint16(at + off("dport"), true);
  }
  return packet;
}

/** One record at byte offset at of dv (EVENT_SIZE bytes). undefined for an unknown kind. */
export function decodeEvent(dv: DataView, at: number, ctx: DecodeContext): RawEvent | undefined {
  const event = EVENT_KINDS.get(dv.getUint8(at + off("kind")));
  if (event === undefined) return undefined;
  const ts = dv.getBigUint64(at + off("ts_ns"), true);
  const ev: RawEvent = {
    event,
    tNs: Number(ts - ctx.startKtimeNs),
    skbaddr: `0x${dv.getBigUint64(at + off("skbaddr"), true).toString(16)}`,
    len: dv.getUint32(at + off("len"), true),
  };
  const ifname = cString(new Uint8Array(dv.buffer, dv.byteOffset + at + off("ifname"), 16));
  if (ifname) ev.ifname = ifname;
  const ifindex = dv.getUint32(at + off("ifindex"), true);
  if (ifindex) ev.ifindex = ifindex;
  const netns = dv.getUint32(at + off("netns_ino"), true);
  if (netns) ev.netns = netns;
  const packet = decodePacket(dv, at);
  if (packet) ev.packet = packet;
  if (event === "kfree_skb") ev.dropReason = dropReasonName(dv.getUint32(at + off("drop_reason"), true), ctx.dropReasons);
  const location = dv.getBigUint64(at + off("location"), true);
  if (location !== 0n) ev.location = ctx.symbolize?.(location) ?? `0x${location.toString(16)}`;
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
 * Decodes bytes copied from the ring buffer: records of an 8-byte header (u32 len with the BUSY and
 * DISCARD bits, u32 page offset) and data, each padded to 8 bytes. Events come back sorted by time:
 * CPUs reserve slots in the ring in nearly, not exactly, timestamp order.
 */
export function decodeRingBytes(buf: ArrayBuffer, ctx: DecodeContext): RingDecodeResult {
  const dv = new DataView(buf);
  const events: RawEvent[] = [];
  let malformed = 0;
  for (let at = 0; at + RINGBUF_HDR <= buf.byteLength;) {
    const hdr = dv.getUint32(at, true);
    const len = hdr & ~(RINGBUF_BUSY | RINGBUF_DISCARD);
    if (hdr & RINGBUF_BUSY) break; // the reader never copies past a busy record; be safe anyway
    const data = at + RINGBUF_HDR;
    if (!(hdr & RINGBUF_DISCARD)) {
      const ev = len === EVENT_SIZE && data + len <= buf.byteLength ? decodeEvent(dv, data, ctx) : undefined;
      if (ev) events.push(ev);
      else malformed++;
    }
    at += (len + RINGBUF_HDR + 7) & ~7;
  }
  events.sort((a, b) => a.tNs - b.tNs);
  return { events, malformed };
}
