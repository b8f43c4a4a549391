// A program as the bytes of struct pktpath_filter (bpf/pktpath.h): what the loader writes into the
// filter map. Little-endian, as BPF maps on the machines pktpath runs on; the offsets are checked
// against the compiled object's BTF by test/filter-layout.test.ts.
import { err, ok, type Result } from "../result.ts";
import { ADDR_LEN } from "./addr.ts";
import { checkProgram, FILTER_MAX, type FilterInsn, type FilterOp, type FilterProgram, FOP } from "./program.ts";

/** struct pktpath_filter_insn: byte offset and size of each member. */
export const FILTER_INSN_LAYOUT = {
  op: { offset: 0, size: 1 },
  jt: { offset: 1, size: 1 },
  jf: { offset: 2, size: 1 },
  pad: { offset: 3, size: 1 },
  arg: { offset: 4, size: 4 },
  addr: { offset: 8, size: ADDR_LEN },
  mask: { offset: 8 + ADDR_LEN, size: ADDR_LEN },
} as const;
export const INSN_BYTES = 8 + 2 * ADDR_LEN;

/** struct pktpath_filter */
export const FILTER_LAYOUT = {
  len: { offset: 0, size: 4 },
  flags: { offset: 4, size: 4 },
  insn: { offset: 8, size: FILTER_MAX * INSN_BYTES },
} as const;
export const FILTER_BYTES = FILTER_LAYOUT.insn.offset + FILTER_LAYOUT.insn.size;
/** pktpath_filter.flags: some instruction tests the packet's length (PKTPATH_FILTER_F_LEN), so the
 * kernel side must judge a packet again when only its length changed. */
export const FILTER_F_LEN = 1;

const L = FILTER_INSN_LAYOUT;

/** The bytes of struct pktpath_filter; unused instructions are zero. Errors if the program is malformed. */
export function encodeProgram(program: FilterProgram): Result<Uint8Array> {
  const bad = checkProgram(program);
  if (bad !== undefined) return err(`cannot encode the filter: ${bad}`);
  const out = new Uint8Array(FILTER_BYTES);
  const dv = new DataView(out.buffer);
  dv.setUint32(FILTER_LAYOUT.len.offset, program.length, true);
  const testsLength = program.some((i) => i.op === FOP.LEN_LE || i.op === FOP.LEN_GE);
  dv.setUint32(FILTER_LAYOUT.flags.offset, testsLength ? FILTER_F_LEN : 0, true);
  program.forEach((i, n) => {
    const at = FILTER_LAYOUT.insn.offset + n * INSN_BYTES;
    dv.setUint8(at + L.op.offset, i.op);
    dv.setUint8(at + L.jt.offset, i.jt);
    dv.setUint8(at + L.jf.offset, i.jf);
    dv.setUint32(at + L.arg.offset, i.arg, true);
    out.set(i.addr, at + L.addr.offset);
    out.set(i.mask, at + L.mask.offset);
  });
  return ok(out);
}

const OPS = new Set<number>(Object.values(FOP));
const isOp = (n: number): n is FilterOp => OPS.has(n);

/** Reads struct pktpath_filter back (what the filter map holds), checking it as the encoder would. */
export function decodeProgram(bytes: Uint8Array): Result<FilterProgram> {
  if (bytes.length !== FILTER_BYTES) return err(`a filter is ${FILTER_BYTES} bytes, not ${bytes.length}`);
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const len = dv.getUint32(FILTER_LAYOUT.len.offset, true);
  if (len > FILTER_MAX) return err(`filter length ${len} is more than ${FILTER_MAX}`);
  const program: FilterInsn[] = [];
  for (let n = 0; n < len; n++) {
    const at = FILTER_LAYOUT.insn.offset + n * INSN_BYTES;
    const op = dv.getUint8(at + L.op.offset);
    if (!isOp(op)) return err(`instruction ${n}: unknown op ${op}`);
    program.push({ op, jt: dv.getUint8(at + L.jt.offset), jf: dv.getUint8(at + L.jf.offset), arg: dv.getUint32(at + L.arg.offset, true),
      addr: bytes.slice(at + L.addr.offset, at + L.addr.offset + ADDR_LEN),
      mask: bytes.slice(at + L.mask.offset, at + L.mask.offset + ADDR_LEN) });
  }
  const bad = checkProgram(program);
  return bad === undefined ? ok(program) : err(bad);
}
