// Parsers for the contract's JSON shapes: untrusted JSON in, typed values or a named error out.
import { err, ok, type Result } from "./result.ts";
import type { DropInfo, Hop, IcmpInfo, Journey, PacketInfo, Ping, PingStatus, RawEvent } from "./types.ts";

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
function withOptional<T extends Obj>(base: T, extra: Obj): T {
  for (const [k, v] of Object.entries(extra)) if (v !== undefined) (base as Obj)[k] = v;
  return base;
}

export function parseIcmp(v: unknown, path: string): Result<IcmpInfo> {
  if (!isObject(v)) return err(`${path}: expected an object`);
  const type = num(v, "type", path), id = num(v, "id", path), seq = num(v, "seq", path);
  if (!type.ok) return type;
  if (!id.ok) return id;
  if (!seq.ok) return seq;
  return ok({ type: type.value, id: id.value, seq: seq.value });
}

export function parsePacket(v: unknown, path: string): Result<PacketInfo> {
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
  return ok(withOptional({ family: fam.value, proto: proto.value, src: src.value, dst: dst.value },
    { icmp, sport: sport.value, dport: dport.value }));
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
  return ok(withOptional({ event: event.value, ifname: ifname.value, tNs: tNs.value, len: len.value },
    { ifindex: ifindex.value, netns: netns.value, netnsName: netnsName.value }));
}

function parseDrop(v: unknown, path: string): Result<DropInfo> {
  if (!isObject(v)) return err(`${path}: expected an object`);
  const reason = str(v, "reason", path), location = optStr(v, "location", path);
  if (!reason.ok) return reason;
  if (!location.ok) return location;
  return ok(withOptional({ reason: reason.value }, { location: location.value }));
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
  return ok(journey);
}

const STATUSES: readonly PingStatus[] = ["complete", "no-reply", "dropped"];
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
  return ok(ping);
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
