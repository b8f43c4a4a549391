// The encoder against the compiled object: struct pktpath_filter and pktpath_filter_insn as their BTF
// in bpf/pktpath.bpf.o lays them out, enum pktpath_filter_op's numbers, PKTPATH_FILTER_MAX/ACCEPT/REJECT
// as bpf/pktpath.h defines them; then the exact bytes of one program and a round trip.
import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
import { readObjectBtf } from "../server/capture/btf.ts";
import { PKTPATH_OBJ } from "../server/capture/ebpf.ts";
import {
  ACCEPT, buildFilter, decodeProgram, encodeProgram, FILTER_BYTES, FILTER_F_LEN, FILTER_INSN_LAYOUT, FILTER_LAYOUT, FILTER_MAX, FOP,
  INSN_BYTES, REJECT,
} from "../shared/filter/index.ts";

test("FILTER_LAYOUT and FOP match the compiled object's BTF", async () => {
  assert.ok(existsSync(PKTPATH_OBJ), `${PKTPATH_OBJ} missing: run make -C bpf`);
  const btf = await readObjectBtf(PKTPATH_OBJ);
  assert.ok(btf.ok, btf.ok ? "" : btf.error);
  const insn = btf.value.struct("pktpath_filter_insn");
  assert.ok(insn, "struct pktpath_filter_insn is in the object's BTF");
  assert.equal(insn.size, INSN_BYTES);
  assert.deepEqual(Object.fromEntries(insn.members.map((m) => [m.name, { offset: m.offset, size: m.size }])), FILTER_INSN_LAYOUT);
  const filter = btf.value.struct("pktpath_filter");
  assert.ok(filter, "struct pktpath_filter is in the object's BTF");
  assert.equal(filter.size, FILTER_BYTES);
  assert.deepEqual(Object.fromEntries(filter.members.map((m) => [m.name, { offset: m.offset, size: m.size }])), FILTER_LAYOUT);
  const ops = btf.value.enumValues("pktpath_filter_op");
  assert.ok(ops, "enum pktpath_filter_op is in the object's BTF");
  assert.deepEqual(new Map(Object.entries(FOP).map(([name, v]) => [v, `PKTPATH_FOP_${name}`])), ops);
});

test("PKTPATH_FILTER_MAX, _ACCEPT and _REJECT as bpf/pktpath.h defines them", () => {
  const header = readFileSync(new URL("../bpf/pktpath.h", import.meta.url), "utf8");
  const define = (name: string) => Number(new RegExp(`#define ${name} (\\S+)`).exec(header)?.[1]);
  assert.deepEqual([define("PKTPATH_FILTER_MAX"), define("PKTPATH_FILTER_ACCEPT"), define("PKTPATH_FILTER_REJECT")],
    [FILTER_MAX, ACCEPT, REJECT]);
});

function compiled(text: string) {
  const r = buildFilter(text);
  assert.ok(r.ok, r.ok ? "" : r.error);
  return r.value.program;
}

test("the bytes of `udp dst port 53 and not src net fd00::/8`", () => {
  const program = compiled("udp dst port 53 and not src net fd00::/8");
  const bytes = encodeProgram(program);
  assert.ok(bytes.ok);
  assert.equal(bytes.value.length, 8 + 64 * 40);
  const hex = (from: number, to: number) => Buffer.from(bytes.value.subarray(from, to)).toString("hex");
  assert.equal(hex(0, 8), "0300000000000000", "len 3, flags 0 (no length test)");
  // op, jt, jf, pad, arg (LE), addr, mask
  assert.equal(hex(8, 48), "0201ff00" + "11000000" + "00".repeat(16) + "00".repeat(16), "proto 17 → 1, reject");
  assert.equal(hex(48, 88), "0602ff00" + "35003500" + "00".repeat(32), "dport 53-53 → 2, reject");
  assert.equal(hex(88, 128), "03fffe00" + "06000000" + "fd" + "00".repeat(15) + "ff" + "00".repeat(15), "src_net fd00::/8 → reject, accept");
  assert.ok(bytes.value.subarray(128).every((b) => b === 0), "the unused instructions are zero");
});

test("flags say whether the program tests the length (PKTPATH_FILTER_F_LEN, as bpf/pktpath.h defines it)", () => {
  const header = readFileSync(new URL("../bpf/pktpath.h", import.meta.url), "utf8");
  assert.equal(Number(/#define PKTPATH_FILTER_F_LEN (\S+)/.exec(header)?.[1]), FILTER_F_LEN);
  const flags = (text: string) => {
    const bytes = encodeProgram(compiled(text));
    assert.ok(bytes.ok);
    return new DataView(bytes.value.buffer).getUint32(FILTER_LAYOUT.flags.offset, true);
  };
  assert.deepEqual(["icmp and less 100", "greater 1400 or udp", "udp port 53", "icmp or icmp6"].map(flags), [FILTER_F_LEN, FILTER_F_LEN, 0, 0]);
});

test("a port range's arg is lo | hi << 16, as an unsigned 32-bit little-endian word", () => {
  const bytes = encodeProgram(compiled("src portrange 1024-65535"));
  assert.ok(bytes.ok);
  assert.equal(Buffer.from(bytes.value.subarray(8, 16)).toString("hex"), "05feff00" + "0004ffff");
});

test("encode then decode gives the program back; malformed bytes and programs are refused", () => {
  for (const text of ["", "tcp port 80 or 443", "host fd00::1 and less 100", "net 10.0.0.0 mask 255.0.255.0 or icmp6"]) {
    const program = compiled(text);
    const bytes = encodeProgram(program);
    assert.ok(bytes.ok);
    assert.deepEqual(decodeProgram(bytes.value), { ok: true, value: program }, text);
  }
  assert.deepEqual(decodeProgram(new Uint8Array(10)), { ok: false, error: "a filter is 2568 bytes, not 10" });
  const bad = new Uint8Array(FILTER_BYTES);
  bad[0] = 65;
  assert.deepEqual(decodeProgram(bad), { ok: false, error: "filter length 65 is more than 64" });
  bad[0] = 1;
  bad[8] = 10;
  assert.deepEqual(decodeProgram(bad), { ok: false, error: "instruction 0: unknown op 10" });
  bad[8] = FOP.TRUE;
  assert.deepEqual(decodeProgram(bad), { ok: false, error: "instruction 0: jump to 0 is not forward" });
  const [first] = compiled("tcp");
  assert.ok(first);
  assert.deepEqual(encodeProgram([{ ...first, jt: 0 }]), { ok: false, error: "cannot encode the filter: instruction 0: jump to 0 is not forward" });
  assert.deepEqual(encodeProgram(Array.from({ length: 65 }, () => first)),
    { ok: false, error: "cannot encode the filter: 65 instructions, more than 64" });
});
