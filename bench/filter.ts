// The kernel's cost of judging one packet it does not track: the header parser and the capture
// filter of bpf/pktpath.bpf.c (built into bpf/parse_test.bpf.o), run by BPF_PROG_TEST_RUN many times
// on one crafted frame, per filter expression. The kernel times the runs itself, so the figures are
// free of the flood bench's noise. Prints figures; asserts nothing. Needs root and `make -C bpf`.
// Usage: node --import tsx bench/filter.ts [runs per figure, default 2000000]
import { fileURLToPath } from "node:url";
import { openAndAttach } from "../server/capture/libbpf.ts";
import { buildFilter, encodeProgram } from "../shared/filter/index.ts";

const RUNS = Number(process.argv[2] ?? 2_000_000);
const OBJ = fileURLToPath(new URL("../bpf/parse_test.bpf.o", import.meta.url));

const EXPRESSIONS = [
  "", // the default: ICMP echoes and the errors about them
  "ip or ip6",
  "udp port 53",
  "(tcp port 443 and host 10.0.0.9) or udp port 53 or icmp or icmp6",
  "not net 10.0.0.0/8 and not net 192.168.0.0/16 and not port 22 and not port 443",
];

const u16 = (n: number): number[] => [n >> 8, n & 0xff];
/** Ethernet + IPv4 + UDP 10.236.0.1:40000 → 10.236.0.2:9400 with 64 bytes: the flood bench's datagram. */
function udpFrame(): Uint8Array {
  const payload = new Array<number>(64).fill(0);
  const udp = [...u16(40000), ...u16(9400), ...u16(8 + payload.length), 0, 0, ...payload];
  const ip = [0x45, 0, ...u16(20 + udp.length), 0, 1, 0x40, 0, 64, 17, 0, 0, 10, 236, 0, 1, 10, 236, 0, 2];
  return Uint8Array.from([...new Array<number>(12).fill(2), 0x08, 0x00, ...ip, ...udp]);
}

function main(): void {
  if (process.getuid?.() !== 0) throw new Error("the filter bench needs root");
  const s = openAndAttach({ objPath: OBJ, noAttach: true });
  if (!s.ok) throw new Error(s.error);
  const frame = udpFrame();
  try {
    for (const expression of EXPRESSIONS) {
      const built = buildFilter(expression);
      if (!built.ok) throw new Error(built.error);
      const bytes = encodeProgram(built.value.program);
      if (!bytes.ok) throw new Error(bytes.error);
      const wrote = s.value.updateMap("filter", 0, bytes.value);
      if (!wrote.ok) throw new Error(wrote.error);
      const ns = s.value.timeRun("parse_test", frame, RUNS);
      if (!ns.ok) throw new Error(ns.error);
      console.log(`${String(ns.value).padStart(5)} ns per packet  ${built.value.program.length} instructions  ${expression || "(default)"}`);
    }
  } finally {
    s.value.close();
  }
}

try {
  main();
} catch (e) {
  console.error(`filter bench: ${e instanceof Error ? e.message : String(e)}`);
  process.exitCode = 1;
}
