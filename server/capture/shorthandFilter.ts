// The capture filter program (struct pktpath_filter) for the --proto/--host/--port shorthands.
// Stands in until the pcap-filter compiler (shared/filter) lands; same instruction table.
import { err, ok, type Result } from "../../shared/result.ts";
import type { CaptureFilter } from "./source.ts";
import { hostBytes } from "./ebpf.ts";

const OP = { TRUE: 0, FAMILY: 1, PROTO: 2, SRC_NET: 3, DST_NET: 4, SPORT: 5, DPORT: 6, ECHO: 7 } as const;
const ACCEPT = 0xfe, REJECT = 0xff, MAX = 64, INSN = 40;

interface Test { op: number; arg?: number; addr?: Uint8Array; mask?: Uint8Array }
/** A conjunction of disjunctions of conjunctions: every group must hold; a group holds when one of its alternatives (all of its tests) does. */
type Group = Test[][];

function encode(groups: Group[]): Uint8Array {
  const groupStart: number[] = [];
  const altStart: number[][] = [];
  let n = 0;
  groups.forEach((alts, g) => {
    groupStart[g] = n;
    altStart[g] = alts.map((tests) => ((n += tests.length), n - tests.length));
  });
  const out = new Uint8Array(8 + MAX * INSN);
  const dv = new DataView(out.buffer);
  dv.setUint32(0, n, true);
  groups.forEach((alts, g) => alts.forEach((tests, a) => tests.forEach((t, i) => {
    const row = altStart[g]![a]! + i;
    const jt = i < tests.length - 1 ? row + 1 : groupStart[g + 1] ?? ACCEPT;
    const jf = altStart[g]![a + 1] ?? REJECT;
    const at = 8 + row * INSN;
    dv.setUint8(at, t.op);
    dv.setUint8(at + 1, jt);
    dv.setUint8(at + 2, jf);
    dv.setUint32(at + 4, t.arg ?? 0, true);
    if (t.addr) out.set(t.addr, at + 8);
    if (t.mask) out.set(t.mask, at + 24);
  })));
  return out;
}

export function shorthandFilterProgram(filter: CaptureFilter): Result<Uint8Array> {
  const groups: Group[] = [];
  switch (filter.proto) {
    case "icmp-echo": groups.push([[{ op: OP.ECHO }]]); break;
    case "any": groups.push([[{ op: OP.TRUE }]]); break;
    case "tcp": groups.push([[{ op: OP.PROTO, arg: 6 }]]); break;
    case "udp": groups.push([[{ op: OP.PROTO, arg: 17 }]]); break;
    case "icmp": groups.push([[{ op: OP.FAMILY, arg: 4 }, { op: OP.PROTO, arg: 1 }], [{ op: OP.FAMILY, arg: 6 }, { op: OP.PROTO, arg: 58 }]]); break;
  }
  if (filter.host !== undefined) {
    const host = hostBytes(filter.host);
    if (!host.ok) return host;
    const mask = new Uint8Array(16).fill(0xff, 0, host.value.family === 4 ? 4 : 16);
    groups.push([[{ op: OP.SRC_NET, arg: host.value.family, addr: host.value.bytes, mask }], [{ op: OP.DST_NET, arg: host.value.family, addr: host.value.bytes, mask }]]);
  }
  if (filter.port !== undefined) {
    if (!Number.isInteger(filter.port) || filter.port < 1 || filter.port > 65535) return err(`bad port ${filter.port}`);
    const range = filter.port | (filter.port << 16);
    groups.push([[{ op: OP.SPORT, arg: range >>> 0 }], [{ op: OP.DPORT, arg: range >>> 0 }]]);
  }
  return ok(encode(groups));
}
