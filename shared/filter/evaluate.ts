// The reference evaluator: runs a compiled filter on one header exactly as the BPF side does, so the
// compiler is tested against it and the kernel side against the same tables.
import { familyBytes, type Family } from "./addr.ts";
import { IPPROTO } from "./ast.ts";
import { ACCEPT, FILTER_MAX, FOP, REJECT, type FilterInsn, type FilterProgram } from "./program.ts";

/** What the filter sees of a packet: one IP header and the start of what it carries. */
export interface FilterHeader {
  family: Family;
  /** IPv4 protocol, or IPv6 next header after the extension headers */
  proto: number;
  /** network order; IPv4 in the first 4 bytes (4 or 16 bytes long) */
  src: Uint8Array;
  dst: Uint8Array;
  /** skb->len */
  len: number;
  /** a non-first fragment: no transport header, so no ports and no ICMP type */
  fragment: boolean;
  /** TCP/UDP, when the header was read */
  sport?: number;
  dport?: number;
  /** ICMP/ICMPv6 type, when the header was read */
  icmpType?: number;
  /** an ICMP error (the BPF side reads it for those only): the header it quotes */
  quoted?: { family: Family; proto: number; icmpType?: number };
}

const icmpOf = (family: Family): number => (family === 4 ? IPPROTO.ICMP : IPPROTO.ICMPV6);
const echoRequest = (family: Family): number => (family === 4 ? 8 : 128);
const echoReply = (family: Family): number => (family === 4 ? 0 : 129);

function isEcho(h: FilterHeader): boolean {
  if (h.proto !== icmpOf(h.family) || h.fragment || h.icmpType === undefined) return false;
  if (h.icmpType === echoRequest(h.family) || h.icmpType === echoReply(h.family)) return true;
  const q = h.quoted;
  return q !== undefined && q.proto === icmpOf(q.family) && q.icmpType === echoRequest(q.family);
}

function netMatches(i: FilterInsn, h: FilterHeader, addr: Uint8Array): boolean {
  if (h.family !== i.arg) return false;
  for (let b = 0; b < familyBytes(h.family); b++) {
    if (((addr[b] ?? 0) & (i.mask[b] ?? 0)) !== (i.addr[b] ?? 0)) return false;
  }
  return true;
}

function portMatches(i: FilterInsn, h: FilterHeader, port: number | undefined): boolean {
  if ((h.proto !== IPPROTO.TCP && h.proto !== IPPROTO.UDP) || h.fragment || port === undefined) return false;
  return port >= (i.arg & 0xffff) && port <= i.arg >>> 16;
}

/** Whether one instruction's test holds for the header; undefined for an op it does not know. */
export function holds(i: FilterInsn, h: FilterHeader): boolean | undefined {
  switch (i.op) {
    case FOP.TRUE: return true;
    case FOP.FAMILY: return h.family === i.arg;
    case FOP.PROTO: return h.proto === i.arg;
    case FOP.SRC_NET: return netMatches(i, h, h.src);
    case FOP.DST_NET: return netMatches(i, h, h.dst);
    case FOP.SPORT: return portMatches(i, h, h.sport);
    case FOP.DPORT: return portMatches(i, h, h.dport);
    case FOP.ECHO: return isEcho(h);
    case FOP.LEN_LE: return h.len <= i.arg;
    case FOP.LEN_GE: return h.len >= i.arg;
  }
  return undefined;
}

/** Runs the program on one header: true when it ends at ACCEPT. A backward jump or an unknown op rejects. */
export function evaluate(program: FilterProgram, h: FilterHeader): boolean {
  let at = 0;
  for (let steps = 0; steps < FILTER_MAX && at < program.length; steps++) {
    const i = program[at];
    if (i === undefined) return false;
    const test = holds(i, h);
    if (test === undefined) return false;
    const next = test ? i.jt : i.jf;
    if (next === ACCEPT) return true;
    if (next === REJECT || next <= at) return false;
    at = next;
  }
  return false;
}

/** A tunnelled packet: the innermost header first, then each outer one, until one accepts. */
export function evaluateLayers(program: FilterProgram, innermostFirst: FilterHeader[]): boolean {
  return innermostFirst.some((h) => evaluate(program, h));
}
