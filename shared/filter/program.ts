// The compiled filter as bpf/pktpath.h defines it (struct pktpath_filter_insn, enum pktpath_filter_op):
// instructions run from 0; each tests one thing of the header and goes on at jt when it holds, at jf
// when not; jumps go forward or end the run at ACCEPT/REJECT; running past the end rejects.
// test/filter-layout.test.ts checks these numbers and offsets against the compiled object's BTF.
import { formatAddress, prefixLength, ADDR_LEN, type Family } from "./addr.ts";

/** enum pktpath_filter_op, named as there without the PKTPATH_FOP_ prefix. */
export const FOP = {
  TRUE: 0,
  FAMILY: 1,
  PROTO: 2,
  SRC_NET: 3,
  DST_NET: 4,
  SPORT: 5,
  DPORT: 6,
  ECHO: 7,
  LEN_LE: 8,
  LEN_GE: 9,
} as const;
export type FilterOp = (typeof FOP)[keyof typeof FOP];

/** PKTPATH_FILTER_MAX, PKTPATH_FILTER_ACCEPT, PKTPATH_FILTER_REJECT */
export const FILTER_MAX = 64;
export const ACCEPT = 0xfe;
export const REJECT = 0xff;

export interface FilterInsn {
  op: FilterOp;
  /** where to go on when the test holds: a later index, ACCEPT or REJECT */
  jt: number;
  jf: number;
  /** FAMILY: 4|6; PROTO: the protocol; *_NET: the family; *PORT: lo | hi << 16; LEN_*: bytes */
  arg: number;
  /** *_NET: network order, IPv4 in the first 4 bytes (ADDR_LEN bytes; zero otherwise) */
  addr: Uint8Array;
  mask: Uint8Array;
}

export type FilterProgram = FilterInsn[];

/** One instruction; addr and mask default to zeros. */
export function insn(op: FilterOp, arg: number, jt: number, jf: number, addr?: Uint8Array, mask?: Uint8Array): FilterInsn {
  return { op, jt, jf, arg, addr: addr ?? new Uint8Array(ADDR_LEN), mask: mask ?? new Uint8Array(ADDR_LEN) };
}

/** The filter when none is given: ICMP/ICMPv6 echoes and the errors about an echo request. */
export const defaultProgram = (): FilterProgram => [insn(FOP.ECHO, 0, ACCEPT, REJECT)];

const OP_NAMES = new Map<number, string>(Object.entries(FOP).map(([k, v]) => [v, k.toLowerCase()]));

const target = (j: number): string => (j === ACCEPT ? "accept" : j === REJECT ? "reject" : String(j));

function argText(i: FilterInsn): string {
  switch (i.op) {
    case FOP.SRC_NET:
    case FOP.DST_NET: {
      const family: Family = i.arg === 6 ? 6 : 4;
      const len = prefixLength(family, i.mask);
      return `${formatAddress(family, i.addr)}${len === undefined ? ` mask ${formatAddress(family, i.mask)}` : `/${len}`}`;
    }
    case FOP.SPORT:
    case FOP.DPORT: {
      const lo = i.arg & 0xffff, hi = i.arg >>> 16;
      return lo === hi ? String(lo) : `${lo}-${hi}`;
    }
    case FOP.TRUE:
    case FOP.ECHO:
      return "";
    default:
      return String(i.arg);
  }
}

/** One line per instruction, for tests and logs: `2 sport 80 → accept, 3`. */
export function disassemble(program: FilterProgram): string[] {
  return program.map((i, at) => {
    const arg = argText(i);
    return `${at} ${OP_NAMES.get(i.op) ?? `op${i.op}`}${arg ? ` ${arg}` : ""} → ${target(i.jt)}, ${target(i.jf)}`;
  });
}

/** What the BPF side may assume: at most FILTER_MAX instructions, known ops, forward jumps only. */
export function checkProgram(program: FilterProgram): string | undefined {
  if (program.length > FILTER_MAX) return `${program.length} instructions, more than ${FILTER_MAX}`;
  for (const [at, i] of program.entries()) {
    if (!OP_NAMES.has(i.op)) return `instruction ${at}: unknown op ${i.op}`;
    for (const j of [i.jt, i.jf]) {
      const ends = j === ACCEPT || j === REJECT;
      if (!ends && (!Number.isInteger(j) || j <= at || j >= FILTER_MAX)) return `instruction ${at}: jump to ${j} is not forward`;
    }
    if (!Number.isInteger(i.arg) || i.arg < 0 || i.arg > 0xffffffff) return `instruction ${at}: arg ${i.arg} is not a u32`;
    if (i.addr.length !== ADDR_LEN || i.mask.length !== ADDR_LEN) return `instruction ${at}: addr and mask take ${ADDR_LEN} bytes`;
  }
  return undefined;
}
