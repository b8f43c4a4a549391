// The recorded captures of test/fixtures/tracefs/ with what the tests know about each, and small
// helpers to run a Correlator over events and describe its output compactly.
import { Correlator, type CorrelatorOptions, type CorrelatorOutput } from "../../shared/correlate.ts";
import type { Journey, RawEvent } from "../../shared/types.ts";
import { readFixture, toRawEvents, type EchoSpec } from "./tracefs-fixture.ts";

export const HOST_NS = 4026531833;
export const PEER_NS = 4026532177;
export const H4 = "10.231.1.1", N4 = "10.231.1.2", H6 = "fd00:231::1", N6 = "fd00:231::2";

/** ICMP ids were fixed with `ping -e`; the pids are the ones tracefs printed for each ping process. */
export const SPECS: Record<string, EchoSpec> = {
  "ping4-host-to-ns": { family: 4, senderIf: "ppB1-h", src: H4, dst: N4, ids: { 7264: 4660 } },
  "ping6-host-to-ns": { family: 6, senderIf: "ppB1-h", src: H6, dst: N6, ids: { 7268: 4661 } },
  "ping4-ns-to-host": { family: 4, senderIf: "ppB1-n", src: N4, dst: H4, ids: { 7272: 4662 } },
  "ping4-cold-arp": { family: 4, senderIf: "ppB1-h", src: H4, dst: N4, ids: { 7278: 4663 } },
  "ping4-concurrent": { family: 4, senderIf: "ppB1-h", src: H4, dst: N4, ids: { 7282: 4670, 7283: 4671 } },
  "ping4-nft-drop": { family: 4, senderIf: "ppB1-h", src: H4, dst: N4, ids: { 7288: 4664 } },
};

export function fixtureEvents(name: string, netnsNames?: Record<number, string>): RawEvent[] {
  const spec = SPECS[name];
  if (!spec) throw new Error(`no spec for ${name}`);
  return toRawEvents(readFixture(name), netnsNames ? { ...spec, netnsNames } : spec);
}

/** Every output of a run, with the index of the push that produced it (-1 for flush, -2 for advance). */
export interface Emitted {
  all: CorrelatorOutput;
  pingAt: Map<string, number>;
}

export function run(events: RawEvent[], opts?: CorrelatorOptions, flush = true): Emitted {
  const c = new Correlator(opts);
  const all: CorrelatorOutput = { journeys: [], exchanges: [], pings: [] };
  const pingAt = new Map<string, number>();
  const take = (o: CorrelatorOutput, at: number): void => {
    all.journeys.push(...o.journeys);
    all.exchanges.push(...o.exchanges);
    for (const p of o.pings) {
      if (pingAt.has(p.id)) throw new Error(`${p.id} emitted twice`);
      pingAt.set(p.id, at);
      all.pings.push(p);
    }
  };
  events.forEach((ev, i) => take(c.push(ev), i));
  if (flush) take(c.flush(), -1);
  return { all, pingAt };
}

const SHORT: Record<string, string> = { net_dev_queue: "queue", netif_rx: "rx", net_dev_xmit: "xmit",
  netif_receive_skb: "recv" };

/** `j-3 0x… queue@ppB1-n+90000 … reply#1 NO_SOCKET`: one journey on one line (tNs after the +). */
export function describeJourney(j: Journey): string {
  const hops = j.hops.map((h) => `${SHORT[h.event] ?? h.event}@${h.ifname}+${h.tNs}`).join(" ");
  const icmp = j.packet?.icmp;
  const kind = icmp ? `${[0, 129].includes(icmp.type) ? "reply" : "request"}#${icmp.seq}` : "-";
  return `${j.id} ${j.skbaddr} ${hops} ${kind}${j.dropped ? ` ${j.dropped.reason}` : ""}`;
}
