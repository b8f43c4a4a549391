// Parsers for the contract's JSON shapes: untrusted JSON in, typed values or a named error out.
import { err, ok, type Result } from "./result.ts";
import type {
  DropInfo, Exchange, ExchangeKind, ExchangeStatus, FragmentInfo, Hop, IcmpErrorInfo, IcmpInfo, Journey, NetfilterStep, OuterHeader,
  PacketInfo, Ping, PingStatus, RawEvent,
} from "./types.ts";

type Obj = Record<string, unknown>;

export function isObject(v: unknown): v is Obj {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function num(o: Obj, key: string, path: string): Result<number> {
  const v = o[key];
  if (typeof v !== "number" || !Number.isFinite(v)) return err(`${path}.${key}: expected a number`);
  return ok(v);
}

function optNum(o: Obj, key: string, path: string): Result<number | undefined> {
  return o[key] === undefined ? ok(undefined) : num(o, key, path);
}

function str(o: Obj, key: string, path: string, maxLen = 256): Result<string> {
  const v = o[key];
  if (typeof v !== "string") return err(`${path}.${key}: expected a string`);
  if (v.length > maxLen) return err(`${path}.${key}: longer than ${maxLen} characters`);
  return ok(v);
}

function optStr(o: Obj, key: string, path: string): Result<string | undefined> {
  return o[key] === undefined ? ok(undefined) : str(o, key, path);
}

function family(o: Obj, path: string): Result<4 | 6> {
  const v = o.family;
  return v === 4 || v === 6 ? ok(v) : err(`${path}.family: expected 4 or 6`);
}

/** Copies defined optional fields only, so parsed objects carry no `undefined` keys. */
function withOptional<T extends object>(base: T, extra: Obj): T {
  for (const [k, v] of Object.entries(extra)) if (v !== undefined) (base as Obj)[k] = v;
  return base;
}

export function parseIcmp(v: unknown, path: string): Result<IcmpInfo> {
  if (!isObject(v)) return err(`${path}: expected an object`);
  const type = num(v, "type", path), id = num(v, "id", path), seq = num(v, "seq", path);
  if (!type.ok) return type;
  if (!id.ok) return id;
  if (!seq.ok) return seq;
  const code = optNum(v, "code", path);
  if (!code.ok) return code;
  return ok(withOptional({ type: type.value, id: id.value, seq: seq.value }, { code: code.value }));
}

export function parsePacket(v: unknown, path: string, depth = 0): Result<PacketInfo> {
  if (!isObject(v)) return err(`${path}: expected an object`);
  const fam = family(v, path), proto = str(v, "proto", path), src = str(v, "src", path), dst = str(v, "dst", path);
  if (!fam.ok) return fam;
  if (!proto.ok) return proto;
  if (!src.ok) return src;
  if (!dst.ok) return dst;
  const sport = optNum(v, "sport", path), dport = optNum(v, "dport", path);
  if (!sport.ok) return sport;
  if (!dport.ok) return dport;
  let icmp: IcmpInfo | undefined;
  if (v.icmp !== undefined) {
    const r = parseIcmp(v.icmp, `${path}.icmp`);
    if (!r.ok) return r;
    icmp = r.value;
  }
  const tcpFlags = optStr(v, "tcpFlags", path), dnsId = optNum(v, "dnsId", path);
  if (!tcpFlags.ok) return tcpFlags;
  if (!dnsId.ok) return dnsId;
  let quoted: PacketInfo | undefined;
  if (v.quoted !== undefined && depth === 0) {
    const r = parsePacket(v.quoted, `${path}.quoted`, 1);
    if (!r.ok) return r;
    quoted = r.value;
  }
  return ok(withOptional({ family: fam.value, proto: proto.value, src: src.value, dst: dst.value },
    { icmp, sport: sport.value, dport: dport.value, tcpFlags: tcpFlags.value, dnsId: dnsId.value, quoted }));
}

export function parseHop(v: unknown, path: string): Result<Hop> {
  if (!isObject(v)) return err(`${path}: expected an object`);
  const event = str(v, "event", path), ifname = str(v, "ifname", path), tNs = num(v, "tNs", path), len = num(v, "len", path);
  if (!event.ok) return event;
  if (!ifname.ok) return ifname;
  if (!tNs.ok) return tNs;
  if (!len.ok) return len;
  const ifindex = optNum(v, "ifindex", path), netns = optNum(v, "netns", path), netnsName = optStr(v, "netnsName", path);
  if (!ifindex.ok) return ifindex;
  if (!netns.ok) return netns;
  if (!netnsName.ok) return netnsName;
  const ttl = optNum(v, "ttl", path), toIfname = optStr(v, "toIfname", path);
  if (!ttl.ok) return ttl;
  if (!toIfname.ok) return toIfname;
  const packet = optional(v.packet, `${path}.packet`, parsePacket);
  const outer = optional(v.outer, `${path}.outer`, parseOuter);
  const netfilter = optional(v.netfilter, `${path}.netfilter`, parseNetfilter);
  const fragment = optional(v.fragment, `${path}.fragment`, parseFragment);
  for (const r of [packet, outer, netfilter, fragment]) if (!r.ok) return err(r.error);
  return ok(withOptional({ event: event.value, ifname: ifname.value, tNs: tNs.value, len: len.value },
    { ifindex: ifindex.value, netns: netns.value, netnsName: netnsName.value, ttl: ttl.value, toIfname: toIfname.value,
      packet: packet.ok ? packet.value : undefined, outer: outer.ok ? outer.value : undefined,
      netfilter: netfilter.ok ? netfilter.value : undefined, fragment: fragment.ok ? fragment.value : undefined }));
}

/** An optional nested object: absent is fine, present must parse. */
function optional<T>(v: unknown, path: string, parse: (v: unknown, path: string) => Result<T>): Result<T | undefined> {
  return v === undefined ? ok(undefined) : parse(v, path);
}

function parseOuter(v: unknown, path: string): Result<OuterHeader> {
  if (!isObject(v)) return err(`${path}: expected an object`);
  const kind = str(v, "kind", path, 32), src = str(v, "src", path), dst = str(v, "dst", path);
  const vni = optNum(v, "vni", path), sport = optNum(v, "sport", path), dport = optNum(v, "dport", path);
  for (const r of [kind, src, dst, vni, sport, dport]) if (!r.ok) return err(r.error);
  if (!kind.ok || !src.ok || !dst.ok || !vni.ok || !sport.ok || !dport.ok) return err(`${path}: bad outer header`);
  return ok(withOptional({ kind: kind.value, src: src.value, dst: dst.value }, { vni: vni.value, sport: sport.value, dport: dport.value }));
}

function parseNetfilter(v: unknown, path: string): Result<NetfilterStep> {
  if (!isObject(v)) return err(`${path}: expected an object`);
  const f = ["family", "table", "chain", "hook", "verdict"].map((k) => str(v, k, path, 64));
  for (const r of f) if (!r.ok) return err(r.error);
  const [family, table, chain, hook, verdict] = f.map((r) => (r.ok ? r.value : ""));
  return ok({ family: family ?? "", table: table ?? "", chain: chain ?? "", hook: hook ?? "", verdict: verdict ?? "" });
}

function parseFragment(v: unknown, path: string): Result<FragmentInfo> {
  if (!isObject(v)) return err(`${path}: expected an object`);
  const ipId = num(v, "ipId", path), offset = num(v, "offset", path);
  if (!ipId.ok) return ipId;
  if (!offset.ok) return offset;
  if (typeof v.more !== "boolean") return err(`${path}.more: expected a boolean`);
  return ok({ ipId: ipId.value, offset: offset.value, more: v.more });
}

function parseDrop(v: unknown, path: string): Result<DropInfo> {
  if (!isObject(v)) return err(`${path}: expected an object`);
  const reason = str(v, "reason", path), location = optStr(v, "location", path), rule = optStr(v, "rule", path);
  if (!reason.ok) return reason;
  if (!location.ok) return location;
  if (!rule.ok) return rule;
  return ok(withOptional({ reason: reason.value }, { location: location.value, rule: rule.value }));
}

export function parseJourney(v: unknown, path: string): Result<Journey> {
  if (!isObject(v)) return err(`${path}: expected an object`);
  const id = str(v, "id", path), skbaddr = str(v, "skbaddr", path);
  if (!id.ok) return id;
  if (!skbaddr.ok) return skbaddr;
  const rawHops = v.hops ?? [];
  if (!Array.isArray(rawHops)) return err(`${path}.hops: expected an array`);
  const hops: Hop[] = [];
  for (const [i, h] of rawHops.entries()) {
    const r = parseHop(h, `${path}.hops[${i}]`);
    if (!r.ok) return r;
    hops.push(r.value);
  }
  const journey: Journey = { id: id.value, skbaddr: skbaddr.value, hops };
  if (v.dropped !== undefined) {
    const r = parseDrop(v.dropped, `${path}.dropped`);
    if (!r.ok) return r;
    journey.dropped = r.value;
  }
  if (v.packet !== undefined) {
    const r = parsePacket(v.packet, `${path}.packet`);
    if (!r.ok) return r;
    journey.packet = r.value;
  }
  const at = optStr(v, "at", path), clonedFrom = optStr(v, "clonedFrom", path);
  if (!at.ok) return at;
  if (!clonedFrom.ok) return clonedFrom;
  const fragment = optional(v.fragment, `${path}.fragment`, parseFragment);
  if (!fragment.ok) return fragment;
  return ok(withOptional(journey, { at: at.value, clonedFrom: clonedFrom.value, fragment: fragment.value }));
}

const STATUSES: readonly PingStatus[] = ["complete", "no-reply", "dropped", "error"];
const isStatus = (v: unknown): v is PingStatus => STATUSES.some((s) => s === v);

export function parsePing(v: unknown, path = "ping"): Result<Ping> {
  if (!isObject(v)) return err(`${path}: expected an object`);
  const id = str(v, "id", path), fam = family(v, path), src = str(v, "src", path), dst = str(v, "dst", path);
  if (!id.ok) return id;
  if (!fam.ok) return fam;
  if (!src.ok) return src;
  if (!dst.ok) return dst;
  const icmpId = num(v, "icmpId", path), seq = num(v, "seq", path), rttNs = optNum(v, "rttNs", path);
  if (!icmpId.ok) return icmpId;
  if (!seq.ok) return seq;
  if (!rttNs.ok) return rttNs;
  const status = v.status;
  if (!isStatus(status)) {
    return err(`${path}.status: expected one of ${STATUSES.join(", ")}`);
  }
  const ping: Ping = { id: id.value, family: fam.value, src: src.value, dst: dst.value, icmpId: icmpId.value,
    seq: seq.value, status };
  if (rttNs.value !== undefined) ping.rttNs = rttNs.value;
  for (const side of ["request", "reply"] as const) {
    if (v[side] === undefined) continue;
    const r = parseJourney(v[side], `${path}.${side}`);
    if (!r.ok) return r;
    ping[side] = r.value;
  }
  const extra = parseAnswerExtras(v, path);
  if (!extra.ok) return extra;
  return ok(withOptional(ping, extra.value));
}

/** `at`, `fragments`, `error`, `retries`: what pings and exchanges share beyond their two journeys. */
function parseAnswerExtras(v: Obj, path: string): Result<Obj> {
  const at = optStr(v, "at", path);
  if (!at.ok) return at;
  const lists: Obj = {};
  for (const key of ["fragments", "retries"] as const) {
    if (v[key] === undefined) continue;
    const raw = v[key];
    if (!Array.isArray(raw)) return err(`${path}.${key}: expected an array`);
    const out: Journey[] = [];
    for (const [i, j] of raw.entries()) {
      const r = parseJourney(j, `${path}.${key}[${i}]`);
      if (!r.ok) return r;
      out.push(r.value);
    }
    lists[key] = out;
  }
  const error = optional(v.error, `${path}.error`, parseIcmpError);
  if (!error.ok) return error;
  return ok({ at: at.value, ...lists, error: error.value });
}

function parseIcmpError(v: unknown, path: string): Result<IcmpErrorInfo> {
  if (!isObject(v)) return err(`${path}: expected an object`);
  const from = str(v, "from", path), type = num(v, "type", path), code = num(v, "code", path), text = str(v, "text", path);
  if (!from.ok) return from;
  if (!type.ok) return type;
  if (!code.ok) return code;
  if (!text.ok) return text;
  const journey = optional(v.journey, `${path}.journey`, parseJourney);
  if (!journey.ok) return journey;
  return ok(withOptional({ from: from.value, type: type.value, code: code.value, text: text.value }, { journey: journey.value }));
}

const KINDS: readonly ExchangeKind[] = ["icmp-echo", "tcp", "udp"];
const EXCHANGE_STATUSES: readonly ExchangeStatus[] = ["complete", "no-reply", "dropped", "error", "refused"];

export function parseExchange(v: unknown, path = "exchange"): Result<Exchange> {
  if (!isObject(v)) return err(`${path}: expected an object`);
  const id = str(v, "id", path), fam = family(v, path), src = str(v, "src", path), dst = str(v, "dst", path);
  if (!id.ok) return id;
  if (!fam.ok) return fam;
  if (!src.ok) return src;
  if (!dst.ok) return dst;
  const kind = KINDS.find((k) => k === v.kind);
  if (!kind) return err(`${path}.kind: expected one of ${KINDS.join(", ")}`);
  const status = EXCHANGE_STATUSES.find((s) => s === v.status);
  if (!status) return err(`${path}.status: expected one of ${EXCHANGE_STATUSES.join(", ")}`);
  const nums = ["sport", "dport", "rttNs", "icmpId", "seq"].map((k) => [k, optNum(v, k, path)] as const);
  const x: Exchange = { id: id.value, kind, family: fam.value, src: src.value, dst: dst.value, status };
  for (const [k, r] of nums) {
    if (!r.ok) return r;
    if (r.value !== undefined) (x as unknown as Obj)[k] = r.value;
  }
  for (const side of ["request", "reply"] as const) {
    if (v[side] === undefined) continue;
    const r = parseJourney(v[side], `${path}.${side}`);
    if (!r.ok) return r;
    x[side] = r.value;
  }
  const extra = parseAnswerExtras(v, path);
  if (!extra.ok) return extra;
  return ok(withOptional(x, extra.value));
}

export function parseRawEvent(v: unknown, path = "event"): Result<RawEvent> {
  if (!isObject(v)) return err(`${path}: expected an object`);
  const event = str(v, "event", path, 64), tNs = num(v, "tNs", path), skbaddr = str(v, "skbaddr", path, 24);
  if (!event.ok) return event;
  if (!tNs.ok) return tNs;
  if (!skbaddr.ok) return skbaddr;
  if (!/^0x[0-9a-f]+$/.test(skbaddr.value)) return err(`${path}.skbaddr: expected 0x-prefixed lowercase hex`);
  const ifname = optStr(v, "ifname", path), ifindex = optNum(v, "ifindex", path), netns = optNum(v, "netns", path);
  const netnsName = optStr(v, "netnsName", path), len = optNum(v, "len", path);
  const dropReason = optStr(v, "dropReason", path), location = optStr(v, "location", path);
  for (const r of [ifname, ifindex, netns, netnsName, len, dropReason, location]) if (!r.ok) return r;
  let packet: PacketInfo | undefined;
  if (v.packet !== undefined) {
    const r = parsePacket(v.packet, `${path}.packet`);
    if (!r.ok) return r;
    packet = r.value;
  }
  return ok(withOptional({ event: event.value, tNs: tNs.value, skbaddr: skbaddr.value }, {
    ifname: ifname.ok ? ifname.value : undefined, ifindex: ifindex.ok ? ifindex.value : undefined,
    netns: netns.ok ? netns.value : undefined, netnsName: netnsName.ok ? netnsName.value : undefined,
    len: len.ok ? len.value : undefined, packet, dropReason: dropReason.ok ? dropReason.value : undefined,
    location: location.ok ? location.value : undefined,
  }));
}
