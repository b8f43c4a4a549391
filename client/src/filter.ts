// The list's filter: every word must appear in the ping's searchable text (addresses, seq=N, id=N,
// status, interface and namespace names), so "10.1 dropped veth0" narrows as expected.
import type { Ping } from "../../shared/types.ts";

export function matchesFilter(ping: Ping, filter: string): boolean {
  const words = filter.toLowerCase().split(/\s+/).filter(Boolean);
  if (words.length === 0) return true;
  const hops = [...(ping.request?.hops ?? []), ...(ping.reply?.hops ?? [])];
  const names = hops.map((h) => `${h.ifname} ${h.netnsName ?? ""}`).join(" ");
  const text = `${ping.id} ${ping.src} ${ping.dst} seq=${ping.seq} id=${ping.icmpId} ${ping.status} ${names}`.toLowerCase();
  return words.every((w) => text.includes(w));
}
