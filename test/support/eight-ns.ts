// The eight-namespace routed chain recorded by `record-ebpf.sh eight` (client, r1…r6, server, prefix
// ppU): two complete echoes and one dropped by nft in r5, correlated as the server does.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { readCapture } from "../../server/capture/file.ts";
import { correlateAll } from "../../shared/correlate.ts";
import type { Ping, RawEvent } from "../../shared/types.ts";
import { parseRawEvent } from "../../shared/validate.ts";

export const EIGHT_NS_FIXTURE = fileURLToPath(new URL("../fixtures/ebpf/eight-ns.ndjson", import.meta.url));
export const EIGHT_NS_NAMES = ["ppU-client", "ppU-r1", "ppU-r2", "ppU-r3", "ppU-r4", "ppU-r5", "ppU-r6", "ppU-server"];

export async function eightNsEvents(): Promise<RawEvent[]> {
  const events: RawEvent[] = [];
  for await (const item of readCapture(EIGHT_NS_FIXTURE)) {
    assert.ok(item.ok, item.ok ? "" : item.error);
    if (item.value.kind === "event") events.push(item.value.event);
  }
  return events;
}

/** [complete seq 1, complete seq 2, dropped] in completion order. */
export async function eightNsPings(): Promise<Ping[]> {
  const pings = correlateAll(await eightNsEvents()).pings;
  assert.equal(pings.length, 3);
  return pings;
}

/** The fixture's text: its header line and its events, for building bigger captures from it. */
export function eightNsLines(): { header: string; events: RawEvent[] } {
  const [header, ...rest] = readFileSync(EIGHT_NS_FIXTURE, "utf8").trim().split("\n");
  assert.ok(header);
  return { header, events: rest.map((l, i) => {
    const r = parseRawEvent(JSON.parse(l), `line ${i + 2}`);
    assert.ok(r.ok, r.ok ? "" : r.error);
    return r.value;
  }) };
}

/**
 * A capture of `completes` echoes through the eight namespaces, then the one nft drop: the recorded
 * echoes repeated in time (each copy with its own ICMP id/seq), the drop last. Real hops, many pings.
 */
export function eightNsCapture(completes: number): string {
  const { header, events } = eightNsLines();
  const dropAt = events.find((e) => e.packet?.src === "10.253.1.3")?.tNs ?? Infinity;
  const secondAt = events.find((e) => e.packet?.icmp?.seq === 2)?.tNs ?? Infinity;
  const first = events.filter((e) => e.tNs < secondAt), second = events.filter((e) => e.tNs >= secondAt && e.tNs < dropAt);
  const drop = events.filter((e) => e.tNs >= dropAt);
  const span = (xs: RawEvent[]): number => (xs.at(-1)?.tNs ?? 0) - (xs[0]?.tNs ?? 0) + 50_000;
  const t0 = first[0]?.tNs ?? 0;
  const out: RawEvent[] = [];
  let t = t0;
  for (let n = 0; n < completes; n++) {
    const block = n % 2 === 0 ? first : second;
    const base = block[0]?.tNs ?? 0;
    for (const e of block) {
      const copy: RawEvent = { ...e, tNs: t + (e.tNs - base) };
      if (e.packet?.icmp) copy.packet = { ...e.packet, icmp: { ...e.packet.icmp, id: 1000 + Math.floor(n / 60000), seq: n % 60000 } };
      out.push(copy);
    }
    t += span(block);
  }
  const dropBase = drop[0]?.tNs ?? 0;
  for (const e of drop) out.push({ ...e, tNs: t + (e.tNs - dropBase) });
  return [header, ...out.map((e) => JSON.stringify(e))].join("\n") + "\n";
}
