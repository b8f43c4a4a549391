// The terminal text of `pktpath trace`, in the spirit of the seed's tracepkt: one line per hop,
// `[netns] ifname direction src -> dst`, grouped under each final ping with its status and rtt.
import { formatDurationNs as formatDuration, formatWallClock } from "./describe.ts";
import { dropPointOf, pathOf, type PathStep } from "./topology.ts";
import type { Journey, Ping } from "./types.ts";

/** A duration for terminals: 850ns, 39.0us, 1.25ms, 2.000s (describe.ts's scale, ASCII units). */
export const formatDurationNs = (ns: number): string => formatDuration(ns, true);

function flowOf(ping: Ping, side: PathStep["side"]): string {
  if (side === "error") return `${ping.error?.from ?? "?"} -> ${ping.src}`;
  return side === "request" ? `${ping.src} -> ${ping.dst}` : `${ping.dst} -> ${ping.src}`;
}

function hopCount(ping: Ping): string {
  return `${ping.request?.hops.length ?? 0}/${ping.reply?.hops.length ?? 0}`;
}

function dropText(ping: Ping): string {
  const drop = dropPointOf(ping);
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

/**
 * One hop as the seed printed it, plus the tracepoint and the time since the ping's first hop:
 * `[   4026531833]           ppB1-h request 10.0.0.1 -> 10.0.0.2   net_dev_queue     +0ns`.
 */
export function formatStep(ping: Ping, step: PathStep, startTNs: number): string {
  const netns = step.lane.name.padStart(12);
  return `[${netns}] ${step.ifname.padStart(16)} ${step.side.padStart(7)} ${flowOf(ping, step.side).padEnd(34)}` +
    ` ${step.event.padEnd(18)} +${formatDurationNs(step.tNs - startTNs)}`;
}

/** The summary line, then one indented line per hop of the request and the reply. */
export function formatPing(ping: Ping, opts: TextOptions = {}): string {
  const steps = pathOf(ping);
  const startTNs = steps[0]?.tNs ?? 0;
  const lines = [summarizePing(ping, opts), ...steps.map((s) => `  ${formatStep(ping, s, startTNs)}`)];
  return lines.join("\n");
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
