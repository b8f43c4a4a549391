// Capture files for the CLI, HTTP and WebSocket tests, made from the real tracefs recordings of
// test/fixtures/tracefs/ (see tracefs-fixture.ts for how packet fields are added).
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { idPrefixFor } from "../../shared/correlate.ts";
import type { RawEvent } from "../../shared/types.ts";
import { readFixture, toRawEvents } from "./tracefs-fixture.ts";

export const HOST_NETNS = 4026531833;
export const NS_NETNS = 4026532177;

/** Two pings 10.231.1.1 → 10.231.1.2 (ICMP id 4660) from the host into ppB1-ns, 200 ms apart. */
export function hostToNsEvents(offsetNs = 0): RawEvent[] {
  const events = toRawEvents(readFixture("ping4-host-to-ns"), {
    family: 4, senderIf: "ppB1-h", src: "10.231.1.1", dst: "10.231.1.2", ids: { 7264: 4660 },
    netnsNames: { [HOST_NETNS]: "host", [NS_NETNS]: "ppB1-ns" },
  });
  return events.map((e) => ({ ...e, tNs: e.tNs + offsetNs }));
}

/**
 * The real two-ping recording repeated `copies` times, `gapNs` apart and merged in time order: each
 * copy with its own skb addresses and sequence numbers, as many pingers at once would look.
 */
export function manyPings(copies: number, gapNs: number, offsetNs: number): RawEvent[] {
  const base = hostToNsEvents(offsetNs);
  const out: RawEvent[] = [];
  for (let k = 0; k < copies; k++) {
    for (const e of base) {
      const ev: RawEvent = { ...e, tNs: e.tNs + k * gapNs, skbaddr: `0x${k.toString(16)}${e.skbaddr.slice(2)}` };
      if (e.packet?.icmp) ev.packet = { ...e.packet, icmp: { ...e.packet.icmp, seq: e.packet.icmp.seq + 2 * k } };
      out.push(ev);
    }
  }
  return out.sort((a, b) => a.tNs - b.tNs);
}

export const HEADER = { pktpath: "capture", version: 1, source: "ebpf", kernel: "6.18.0-test",
  startedAt: "2026-01-01T00:00:00.000Z" };

/** How serve and import correlate a capture with HEADER: its clock origin and the ids it names. */
export const HEADER_ORIGIN_US = Date.parse(HEADER.startedAt) * 1000;
export const HEADER_CORRELATION = { originUs: HEADER_ORIGIN_US, idPrefix: idPrefixFor(HEADER_ORIGIN_US) };

export function captureText(events: RawEvent[]): string {
  return [HEADER, ...events].map((v) => JSON.stringify(v)).join("\n") + "\n";
}

/** A temporary directory removed by the returned function. */
export function tempDir(prefix: string): { dir: string; remove: () => void } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

export function writeCapture(dir: string, name: string, text: string): string {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
}

/** "p-<prefix>": how serve and import name the pings of a capture file (after its header's start). */
export function pingIdPrefixOf(path: string): string {
  const header = JSON.parse(readFileSync(path, "utf8").split("\n", 1)[0] ?? "{}") as { startedAt?: unknown };
  return `p-${idPrefixFor(Date.parse(String(header.startedAt)) * 1000)}`;
}
