// The terminal text of `pktpath trace`, in the spirit of the seed's tracepkt: one line per hop,
// `[netns] ifname direction src -> dst`, grouped under each final ping with its status and rtt.
import { formatDurationNs as formatDuration, formatWallClock } from "./describe.ts";
import { exchangeFlags } from "./describe.ts";
import { isPing } from "./pings.ts";
import { headersOf } from "./pathNotes.ts";
import { dropPointOf, journeyOf, laneKeyOf, lanesOf, SIDES, type PathSubject, type Side } from "./topology.ts";
import type { Exchange, Hop, Journey, PacketInfo, Ping } from "./types.ts";

/** A duration for terminals: 850ns, 39.0us, 1.25ms, 2.000s (describe.ts's scale, ASCII units). */
export const formatDurationNs = (ns: number): string => formatDuration(ns, true);

function hopCount(ping: Ping): string {
  return `${ping.request?.hops.length ?? 0}/${ping.reply?.hops.length ?? 0}`;
}

function dropText(subject: PathSubject): string {
  const drop = dropPointOf(subject);
  if (!drop) return "";
  const at = drop.rule ? ` by nft ${drop.rule}` : drop.location ? ` at ${drop.location}` : "";
  const on = drop.ifname ? ` after ${drop.ifname}` : "";
  return ` (${drop.side} dropped: ${drop.reason}${at}${on})`;
}

/** How the terminal shows wall-clock times: in this zone (the caller's, e.g. the process's TZ), named. */
export interface TextOptions {
  timeZone?: string;
}

/**
 * One line: `p-1 complete 10.0.0.1 -> 10.0.0.2 id=7 seq=1 rtt=39.0us hops=4/4`, and when the ping has
 * its wall-clock time, ` at 2026-12-02 07:34:15.123456 GMT+1` after the id.
 */
export function summarizePing(ping: Ping, opts: TextOptions = {}): string {
  const rtt = ping.rttNs !== undefined ? ` rtt=${formatDurationNs(ping.rttNs)}` : "";
  const at = ping.at !== undefined ? ` at ${formatWallClock(ping.at, { timeZone: opts.timeZone ?? "UTC", date: true })}` : "";
  const missing = !ping.request ? " (request not seen)" : "";
  return `${ping.id}${at} ${ping.status} ${ping.src} -> ${ping.dst} id=${ping.icmpId} seq=${ping.seq}${rtt}` +
    ` hops=${hopCount(ping)}${missing}${dropText(ping)}`;
}

/** What a step adds to the seed's line: the chain and its verdict, the tunnel, the neighbour, where it goes on to. */
export function stepNote(hop: Hop): string {
  const notes: string[] = [];
  if (hop.netfilter) {
    const n = hop.netfilter;
    notes.push(`${n.family.endsWith("tables") ? n.family : `nft ${n.family}`} ${n.table} ${n.chain}: ${n.verdict}`);
  }
  if (hop.outer) {
    const o = hop.outer;
    notes.push(`${o.kind}${o.vni !== undefined ? ` ${o.vni}` : ""}: ${o.src} -> ${o.dst}`);
  }
  if (hop.neighbour) notes.push(`waits for ${hop.neighbour.address} (${hop.neighbour.state})`);
  if (hop.toIfname) notes.push(`to ${hop.toIfname}`);
  if (hop.fragment) notes.push(`fragment ${hop.fragment.offset}${hop.fragment.more ? "+" : ""}`);
  return notes.join("; ");
}

/**
 * One hop as the seed printed it, plus the tracepoint and the time since the first hop:
 * `[   4026531833]           ppB1-h request 10.0.0.1 -> 10.0.0.2   net_dev_queue     +0ns`; the header
 * is the hop's own (NAT rewrites it on the way), and a note follows where the hop has more to say.
 */
export function formatHop(lane: string, side: Side, header: PacketInfo | undefined, hop: Hop, startTNs: number): string {
  const flow = header ? `${header.src} -> ${header.dst}` : "?";
  const line = `[${lane.padStart(12)}] ${hop.ifname.padStart(16)} ${side.padStart(7)} ${flow.padEnd(34)}` +
    ` ${hop.event.padEnd(18)} +${formatDurationNs(hop.tNs - startTNs)}`;
  const note = stepNote(hop);
  return note ? `${line}  ${note}` : line;
}

/** Every hop of the request, the reply and an ICMP error, each with the header it had there. */
function hopLines(subject: PathSubject): string[] {
  const lanes = new Map(lanesOf(subject).map((l) => [l.key, l.name]));
  const rows: { side: Side; hop: Hop; header: PacketInfo | undefined }[] = [];
  for (const side of SIDES) {
    const journey = journeyOf(subject, side);
    const headers = journey ? headersOf(journey) : [];
    journey?.hops.forEach((hop, i) => rows.push({ side, hop, header: headers[i] }));
  }
  const start = rows[0]?.hop.tNs ?? 0;
  return rows.map((r) => `  ${formatHop(lanes.get(laneKeyOf(r.hop)) ?? "?", r.side, r.header, r.hop, start)}`);
}

/** The summary line, then one indented line per hop of the request and the reply. */
export function formatPing(ping: Ping, opts: TextOptions = {}): string {
  return [summarizePing(ping, opts), ...hopLines(ping)].join("\n");
}

/** One line for any exchange: a ping as summarizePing says it; TCP and UDP with ports, flags, retries. */
export function summarizeExchange(x: Exchange, opts: TextOptions = {}): string {
  if (isPing(x)) return summarizePing(x, opts);
  const at = x.at !== undefined ? ` at ${formatWallClock(x.at, { timeZone: opts.timeZone ?? "UTC", date: true })}` : "";
  const ep = (a: string, port: number | undefined): string => (port === undefined ? a : x.family === 6 ? `[${a}]:${port}` : `${a}:${port}`);
  const flags = exchangeFlags(x);
  const dns = x.request?.packet?.dnsId;
  const rtt = x.rttNs !== undefined ? ` rtt=${formatDurationNs(x.rttNs)}` : "";
  const retries = x.retries?.length ? ` retries=${x.retries.length}` : "";
  const err = x.error ? ` (${x.error.text} from ${x.error.from})` : "";
  return `${x.id}${at} ${x.status} ${x.kind} ${ep(x.src, x.sport)} -> ${ep(x.dst, x.dport)}` +
    `${flags ? ` flags=${flags.replace(" → ", "/")}` : ""}${dns !== undefined ? ` dns=0x${dns.toString(16).padStart(4, "0")}` : ""}${rtt}` +
    ` hops=${x.request?.hops.length ?? 0}/${x.reply?.hops.length ?? 0}${retries}${err}${dropText(x)}`;
}

/** An exchange of any kind as `trace` prints it: its line, then its hops. */
export function formatExchange(x: Exchange, opts: TextOptions = {}): string {
  return isPing(x) ? formatPing(x, opts) : [summarizeExchange(x, opts), ...hopLines(x)].join("\n");
}

/**
 * A journey that belongs to no ping (a capture without packet headers, or not an echo):
 * `j-3 0xffff8881… 4 hops, dropped: NETFILTER_DROP at nft_do_chain+0x3e8` and one line per hop.
 */
export function formatJourney(journey: Journey): string {
  const start = journey.hops[0]?.tNs ?? 0;
  const end = journey.dropped ? `, dropped: ${journey.dropped.reason}${journey.dropped.location ? ` at ${journey.dropped.location}` : ""}` : "";
  const what = journey.packet ? ` ${journey.packet.proto} ${journey.packet.src} -> ${journey.packet.dst}` : "";
  const lines = [`${journey.id} ${journey.skbaddr}${what} ${journey.hops.length} hops${end}`];
  for (const hop of journey.hops) {
    const netns = (hop.netnsName ?? (hop.netns !== undefined ? String(hop.netns) : "?")).padStart(12);
    lines.push(`  [${netns}] ${hop.ifname.padStart(16)} ${hop.event.padEnd(18)} len=${String(hop.len).padEnd(5)} +${formatDurationNs(hop.tNs - start)}`);
  }
  return lines.join("\n");
}
