// The list's search: every word of the query must appear in what is known of an exchange (addresses,
// ports, status, namespaces, interfaces, drop reasons, locations and rules, the ICMP error, NAT'd
// headers). One definition, used by the server over its whole store and by the page on what arrives.
import { asExchange } from "./describe.ts";
import { SIDES, journeyOf, type PathSubject } from "./topology.ts";
import type { Exchange, Hop, Journey, PacketInfo, Ping } from "./types.ts";

export const MAX_QUERY_CHARS = 200;

/** Lower-cased words; at most 16 (a longer query is not a search anyone typed). */
export function queryWords(q: string): string[] {
  return q.toLowerCase().split(/\s+/).filter(Boolean).slice(0, 16);
}

const packetText = (p: PacketInfo | undefined): string =>
  p ? `${p.proto} ${p.src} ${p.dst}${p.sport !== undefined ? ` ${p.sport}` : ""}${p.dport !== undefined ? ` ${p.dport}` : ""}${p.tcpFlags ? ` ${p.tcpFlags}` : ""}` : "";

function hopText(h: Hop): string {
  const nf = h.netfilter ? ` ${h.netfilter.family} ${h.netfilter.table} ${h.netfilter.chain} ${h.netfilter.hook} ${h.netfilter.verdict}` : "";
  const outer = h.outer ? ` ${h.outer.kind} ${h.outer.src} ${h.outer.dst}${h.outer.vni !== undefined ? ` vni=${h.outer.vni}` : ""}` : "";
  return ` ${h.ifname} ${h.toIfname ?? ""} ${h.netnsName ?? ""} ${h.netns ?? ""} ${h.event}${nf}${outer} ${packetText(h.packet)}`;
}

function journeyText(j: Journey | undefined): string {
  if (!j) return "";
  const d = j.dropped;
  const drop = d ? ` ${d.reason} ${d.location ?? ""} ${d.rule ?? ""}` : "";
  return `${drop} ${packetText(j.packet)}${j.hops.map(hopText).join("")}`;
}

/** Everything a search looks at, lower-cased. */
export function searchTextOf(item: Ping | Exchange): string {
  const x = asExchange(item);
  const subject: PathSubject = x;
  const journeys = [...SIDES.map((s) => journeyOf(subject, s)), ...(x.fragments ?? []), ...(x.retries ?? [])];
  const err = x.error ? ` ${x.error.from} ${x.error.text}` : "";
  const ports = `${x.sport !== undefined ? ` ${x.sport}` : ""}${x.dport !== undefined ? ` ${x.dport}` : ""}`;
  const echo = x.kind === "icmp-echo" ? ` icmp seq=${x.seq ?? ""} id=${x.icmpId ?? ""}` : "";
  return `${x.id} ${x.kind}${echo} ${x.src} ${x.dst}${ports} ${x.status}${err}${journeys.map(journeyText).join("")}`.toLowerCase();
}

/** Every word in the text (a searchTextOf, which a caller may keep). */
export function textHasWords(text: string, words: readonly string[]): boolean {
  return words.every((w) => text.includes(w));
}

export function matchesWords(item: Ping | Exchange, words: readonly string[]): boolean {
  return words.length === 0 || textHasWords(searchTextOf(item), words);
}
