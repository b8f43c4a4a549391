// Parsers for the contract's JSON shapes (and the capture file's RawEvent): untrusted JSON in, typed
// values or an error naming the path at fault out. One schema per shape of types.ts.
import { arrayOf, bool, lazy, matching, num, object, oneOf, str, type Parser } from "./schema.ts";
import type { Exchange, Hop, Journey, PacketInfo, Ping, RawEvent } from "./types.ts";
import type { Result } from "./result.ts";

export { isObject } from "./schema.ts";

const family = oneOf(4, 6);
const text = str();

const icmp = object({ type: num, id: num, seq: num }, { code: num });

const packet: Parser<PacketInfo> = object(
  { family, proto: text, src: text, dst: text },
  { icmp, sport: num, dport: num, tcpFlags: str(8), dnsId: num, quoted: lazy(() => packet) },
);

const outer = object({ kind: str(32), src: text, dst: text }, { vni: num, sport: num, dport: num });
const netfilter = object({ family: str(32), table: text, chain: text, hook: str(32), verdict: str(32) }, {});
const fragment = object({ ipId: num, offset: num, more: bool }, {});
const neighbour = object({ address: text, state: str(64) }, {});

const hopOptional = { ifindex: num, netns: num, netnsName: text, packet, outer, netfilter, ttl: num, toIfname: str(32),
  fragment, neighbour };

export const parseHop: Parser<Hop> = object({ event: str(64), ifname: text, tNs: num, len: num }, hopOptional);

const dropped = object({ reason: text }, { location: text, rule: str(1024) });

const hops = arrayOf(parseHop);
export const parseJourney: Parser<Journey> = (v, path) => {
  // Lists may leave the hops out (GET /api/pings): an absent list is an empty one.
  const r = object({ id: text, skbaddr: str(24) }, { hops, at: str(40), dropped, packet, fragment, clonedFrom: text })(v, path);
  return r.ok ? { ok: true, value: { ...r.value, hops: r.value.hops ?? [] } } : r;
};

const error = object({ from: text, type: num, code: num, text }, { journey: parseJourney });
const journeys = arrayOf(parseJourney);

const exchangeOptional = { sport: num, dport: num, at: str(40), request: parseJourney, reply: parseJourney, retries: journeys,
  rttNs: num, error, icmpId: num, seq: num, fragments: journeys, recordsLost: bool };

const exchangeParser: Parser<Exchange> = object(
  { id: text, kind: oneOf("icmp-echo", "tcp", "udp"), family, src: text, dst: text,
    status: oneOf("complete", "no-reply", "dropped", "error", "refused") },
  exchangeOptional,
);

export function parseExchange(v: unknown, path = "exchange"): Result<Exchange> {
  return exchangeParser(v, path);
}

const pingParser = object(
  { id: text, family, src: text, dst: text, icmpId: num, seq: num, status: oneOf("complete", "no-reply", "dropped", "error") },
  { at: str(40), request: parseJourney, reply: parseJourney, rttNs: num, fragments: journeys, error, kind: oneOf("icmp-echo"),
    recordsLost: bool },
);

export function parsePing(v: unknown, path = "ping"): Result<Ping> {
  return pingParser(v, path);
}

export function parsePacket(v: unknown, path: string): Result<PacketInfo> {
  return packet(v, path);
}

const rawEvent = object(
  { event: str(64), tNs: num, skbaddr: matching(/^0x[0-9a-f]+$/, "0x-prefixed lowercase hex", str(24)) },
  { ifname: text, ifindex: num, netns: num, netnsName: text, len: num, packet, outer, ttl: num, fragment, netfilter,
    natKind: str(32), toIfname: str(32), neighbour, cloneOf: matching(/^0x[0-9a-f]+$/, "0x-prefixed lowercase hex", str(24)),
    newSkb: bool, lostFromNs: num, dropReason: text, rule: str(1024), location: text },
);

export function parseRawEvent(v: unknown, path = "event"): Result<RawEvent> {
  return rawEvent(v, path);
}
