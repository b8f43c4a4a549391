// Reads the raw tracefs recordings of test/fixtures/tracefs/ (made by test/fixtures/record-tracefs.sh
// on a real kernel) into RawEvents. tracefs text carries no packet headers, so each recording comes
// with what the test knows about it (who pinged whom, with which ICMP id) and echo packets are
// labelled the way the eBPF source labels them: on every hop except net_dev_xmit, whose handler
// never reads the skb.
import { readFileSync } from "node:fs";
import { isLifetimeEvent, type PacketInfo, type RawEvent } from "../../shared/types.ts";

const DIR = new URL("../fixtures/tracefs/", import.meta.url);

export interface FixtureLine {
  comm: string;
  pid: number;
  /** microseconds of the trace clock, exact */
  tUs: number;
  event: string;
  dev?: string;
  skbaddr: string;
  len?: number;
  location?: string;
  reason?: string;
}

const LINE = /^\s*(.+)-(\d+)\s+\[\d+\]\s+\S+\s+(\d+)\.(\d{6}): (\w+): (.*)$/;

export function readFixture(name: string): FixtureLine[] {
  const text = readFileSync(new URL(`${name}.txt`, DIR), "utf8");
  return text.split("\n").filter((l) => l.trim() !== "").map((l, i) => {
    const m = LINE.exec(l);
    if (!m) throw new Error(`${name}.txt:${i + 1}: not a trace line`);
    const [, comm = "", pid = "", sec = "", usec = "", event = "", rest = ""] = m;
    const field = (key: string): string | undefined => new RegExp(`(?:^| )${key}=(\\S+)`).exec(rest)?.[1];
    const line: FixtureLine = { comm, pid: Number(pid), tUs: Number(sec) * 1e6 + Number(usec), event,
      skbaddr: `0x${field("skbaddr") ?? "?"}` };
    const dev = field("dev"), len = field("len"), location = field("location");
    const reason = / reason: (\S+)/.exec(rest)?.[1];
    if (dev !== undefined) line.dev = dev;
    if (len !== undefined) line.len = Number(len);
    if (location !== undefined) line.location = location;
    if (reason !== undefined) line.reason = reason;
    return line;
  });
}

/** interfaces.txt: ifindex and netns inode of the veth ends, which tracefs text does not print. */
export function readInterfaces(): Map<string, { ifindex: number; netns: number }> {
  const text = readFileSync(new URL("interfaces.txt", DIR), "utf8");
  const out = new Map<string, { ifindex: number; netns: number }>();
  for (const m of text.matchAll(/^(\S+) ifindex=(\d+) netns=(\d+)$/gm)) {
    out.set(m[1] ?? "", { ifindex: Number(m[2]), netns: Number(m[3]) });
  }
  return out;
}

export interface EchoSpec {
  family: 4 | 6;
  /** the pinger's side of the veth pair: its requests are queued there */
  senderIf: string;
  src: string;
  dst: string;
  /** pid of each ping process → the ICMP id it used (ping -e) */
  ids: Record<number, number>;
  /** names of the namespaces by inode, as the server would enrich them */
  netnsNames?: Record<number, string>;
}

// Frame lengths of a 56-byte echo: at net_dev_queue/xmit (with the Ethernet header) and after
// eth_type_trans pulled it (netif_rx, netif_receive_skb).
const ECHO_LENS = { 4: [98, 84], 6: [118, 104] } as const;
const SENDING = new Set(["net_dev_queue", "net_dev_xmit"]);

export function toRawEvents(lines: FixtureLine[], spec: EchoSpec): RawEvent[] {
  const ifs = readInterfaces();
  const t0 = lines[0]?.tUs ?? 0;
  const seqByPid = new Map<number, number>();
  return lines.map((l) => {
    const ev: RawEvent = { event: l.event, tNs: (l.tUs - t0) * 1000, skbaddr: l.skbaddr };
    if (isLifetimeEvent(l.event)) {
      if (l.location !== undefined) ev.location = l.location;
      if (l.event === "kfree_skb" && l.reason !== undefined) ev.dropReason = l.reason;
      return ev;
    }
    if (l.dev !== undefined) ev.ifname = l.dev;
    if (l.len !== undefined) ev.len = l.len;
    const iface = l.dev !== undefined ? ifs.get(l.dev) : undefined;
    if (iface) {
      ev.ifindex = iface.ifindex;
      ev.netns = iface.netns;
      const name = spec.netnsNames?.[iface.netns];
      if (name !== undefined) ev.netnsName = name;
    }
    const id = spec.ids[l.pid];
    if (id === undefined || !(ECHO_LENS[spec.family] as readonly number[]).includes(l.len ?? -1)) return ev;
    const isRequest = (l.dev === spec.senderIf) === SENDING.has(l.event);
    if (isRequest && l.event === "net_dev_queue") seqByPid.set(l.pid, (seqByPid.get(l.pid) ?? 0) + 1);
    if (l.event === "net_dev_xmit") return ev;
    const seq = seqByPid.get(l.pid) ?? 0;
    ev.packet = echoPacket(spec, isRequest, id, seq);
    return ev;
  });
}

export function echoPacket(spec: Pick<EchoSpec, "family" | "src" | "dst">, isRequest: boolean, id: number,
  seq: number): PacketInfo {
  const v4 = spec.family === 4;
  return { family: spec.family, proto: v4 ? "icmp" : "icmpv6",
    src: isRequest ? spec.src : spec.dst, dst: isRequest ? spec.dst : spec.src,
    icmp: { type: isRequest ? (v4 ? 8 : 128) : (v4 ? 0 : 129), id, seq } };
}
