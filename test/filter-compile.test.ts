// The FILTER compiler: its programs' verdicts on packets (a table, then a seeded sweep of random
// expressions and packets against a direct evaluation of the parse tree), the exact programs of a
// few expressions, the size limit, and the --proto/--host/--port shorthands.
import { test } from "node:test";
import assert from "node:assert/strict";
import {
  buildFilter, disassemble, evaluate, evaluateLayers, parseAddress, shorthandExpr, type FilterHeader, type FilterProgram,
  type Shorthands,
} from "../shared/filter/index.ts";

const IP = { icmp: 1, tcp: 6, udp: 17, icmp6: 58, gre: 47 } as const;

function addr(text: string): Uint8Array {
  const a = parseAddress(text);
  assert.ok(a, text);
  return a.bytes;
}

/** "tcp 10.0.0.1:1234 > 10.0.0.2:80", "udp [fd00::1]:53 > [fd00::2]:5353", "icmp 10.0.0.1 > 10.0.0.2 type 8" */
function pkt(spec: string, more: Partial<FilterHeader> = {}): FilterHeader {
  const m = /^(\w+) (\S+) > (\S+)(?: type (\d+))?$/.exec(spec);
  assert.ok(m, spec);
  const [, proto = "", from = "", to = "", type] = m;
  const endpoint = (s: string) => {
    const e = /^\[(.+)\]:(\d+)$/.exec(s) ?? /^([\d.]+):(\d+)$/.exec(s);
    return e ? { host: e[1] ?? "", port: Number(e[2]) } : { host: s, port: undefined };
  };
  const src = endpoint(from), dst = endpoint(to);
  const h: FilterHeader = { family: src.host.includes(":") ? 6 : 4, proto: IP[proto as keyof typeof IP] ?? Number(proto),
    src: addr(src.host), dst: addr(dst.host), len: 84, fragment: false };
  if (src.port !== undefined) h.sport = src.port;
  if (dst.port !== undefined) h.dport = dst.port;
  if (type !== undefined) h.icmpType = Number(type);
  return { ...h, ...more };
}

function program(text: string): FilterProgram {
  const r = buildFilter(text);
  assert.ok(r.ok, r.ok ? "" : r.error);
  return r.value.program;
}

const web = pkt("tcp 10.0.0.1:51514 > 10.0.1.5:443");
const web6 = pkt("tcp [fd00::1]:51514 > [fd00:1::5]:443");
const dns = pkt("udp 10.0.0.2:40000 > 10.0.0.53:53");
const dnsBack = pkt("udp 10.0.0.53:53 > 10.0.0.2:40000");
const echo4 = pkt("icmp 10.0.0.1 > 10.0.0.2 type 8");
const reply4 = pkt("icmp 10.0.0.2 > 10.0.0.1 type 0");
const echo6 = pkt("icmp6 fd00::1 > fd00::2 type 128");
const reply6 = pkt("icmp6 fd00::2 > fd00::1 type 129");
const unreachEcho = pkt("icmp 10.0.9.1 > 10.0.0.1 type 11", { quoted: { family: 4, proto: IP.icmp, icmpType: 8 } });
const unreachUdp = pkt("icmp 10.0.0.53 > 10.0.0.2 type 3", { quoted: { family: 4, proto: IP.udp } });
const tooBig6 = pkt("icmp6 fd00::9 > fd00::1 type 2", { quoted: { family: 6, proto: IP.icmp6, icmpType: 128 } });
const redirect = pkt("icmp 10.0.0.254 > 10.0.0.1 type 5");
const laterFragment = pkt("udp 10.0.0.2 > 10.0.0.53", { fragment: true });
const gre = pkt("gre 10.9.0.1 > 10.9.0.2");
const small = pkt("udp 10.0.0.2:40000 > 10.0.0.53:53", { len: 60 });
const big = pkt("tcp 10.0.0.1:51514 > 10.0.1.5:443", { len: 1500 });
const ALL = { web, web6, dns, dnsBack, echo4, reply4, echo6, reply6, unreachEcho, unreachUdp, tooBig6, redirect, laterFragment, gre, small, big };
type Name = keyof typeof ALL;

/** [expression, the packets it accepts; every other packet of ALL is rejected] */
const verdicts: [string, Name[]][] = [
  ["", ["echo4", "reply4", "echo6", "reply6", "unreachEcho", "tooBig6"]],
  ["icmp-echo", ["echo4", "reply4", "echo6", "reply6", "unreachEcho", "tooBig6"]],
  ["icmp", ["echo4", "reply4", "unreachEcho", "unreachUdp", "redirect"]],
  ["icmp6", ["echo6", "reply6", "tooBig6"]],
  ["tcp", ["web", "web6", "big"]],
  ["udp", ["dns", "dnsBack", "laterFragment", "small"]],
  ["ip6", ["web6", "echo6", "reply6", "tooBig6"]],
  ["ip or ip6", Object.keys(ALL) as Name[]],
  ["not ip and not ip6", []],
  ["(ip or ip6) and tcp", ["web", "web6", "big"]],
  ["udp or (ip and ip6)", ["dns", "dnsBack", "laterFragment", "small"]],
  ["not (ip or ip6) or proto 47", ["gre"]],
  ["host 10.0.0.2", ["dns", "dnsBack", "echo4", "reply4", "unreachUdp", "laterFragment", "small"]],
  ["src host 10.0.0.2", ["dns", "reply4", "laterFragment", "small"]],
  ["dst host 10.0.0.2", ["dnsBack", "echo4", "unreachUdp"]],
  ["src and dst host 10.0.0.2", []],
  ["host fd00::1", ["web6", "echo6", "reply6", "tooBig6"]],
  ["net 10.0.1.0/24", ["web", "big"]],
  ["not net 10.0.0.0/8", ["web6", "echo6", "reply6", "tooBig6"]],
  ["dst net fd00::/16", ["web6", "echo6", "reply6", "tooBig6"]],
  ["net 10.9", ["gre"]],
  ["net 10.0.0.2 mask 255.0.0.255", ["dns", "dnsBack", "echo4", "reply4", "unreachUdp", "laterFragment", "gre", "small"]],
  // a non-first fragment has no ports
  ["port 53", ["dns", "dnsBack", "small"]],
  ["udp port 53 or 443", ["dns", "dnsBack", "small"]],
  ["tcp port 53 or 443", ["web", "web6", "big"]],
  ["dst port 443", ["web", "web6", "big"]],
  ["src port 443", []],
  ["portrange 40000-50000", ["dns", "dnsBack", "small"]],
  ["src and dst portrange 1-65535", ["web", "web6", "dns", "dnsBack", "small", "big"]],
  ["less 60", ["small"]],
  ["greater 1000", ["big"]],
  ["len = 84", ["web", "web6", "dns", "dnsBack", "echo4", "reply4", "echo6", "reply6", "unreachEcho", "unreachUdp", "tooBig6", "redirect", "laterFragment", "gre"]],
  ["ip proto 47", ["gre"]],
  ["ip6 proto 6", ["web6"]],
  ["tcp port 443 and host 10.0.1.5", ["web", "big"]],
  ["icmp or udp port 53", ["echo4", "reply4", "unreachEcho", "unreachUdp", "redirect", "dns", "dnsBack", "small"]],
  ["tcp or udp and port 53", ["dns", "dnsBack", "small"]],
  ["tcp or (udp and port 53)", ["web", "web6", "big", "dns", "dnsBack", "small"]],
  ["not (tcp or udp or icmp)", ["echo6", "reply6", "tooBig6", "gre"]],
  ["icmp-echo and not host 10.0.9.1", ["echo4", "reply4", "echo6", "reply6", "tooBig6"]],
];

for (const [text, accepts] of verdicts) {
  test(`verdicts of ${JSON.stringify(text)}`, () => {
    const p = program(text);
    const got = (Object.keys(ALL) as Name[]).filter((n) => evaluate(p, ALL[n]));
    assert.deepEqual(got, (Object.keys(ALL) as Name[]).filter((n) => accepts.includes(n)));
  });
}

/** [expression, its program] */
const programs: [string, string[]][] = [
  ["", ["0 echo → accept, reject"]],
  ["tcp port 80", ["0 proto 6 → 1, reject", "1 sport 80 → accept, 2", "2 dport 80 → accept, reject"]],
  ["icmp", ["0 family 4 → 1, reject", "1 proto 1 → accept, reject"]],
  ["host 10.0.0.1 and not port 22",
    ["0 src_net 10.0.0.1/32 → 2, 1", "1 dst_net 10.0.0.1/32 → 2, reject", "2 sport 22 → reject, 3", "3 dport 22 → reject, accept"]],
  ["src and dst net fd00::/8", ["0 src_net fd00::/8 → 1, reject", "1 dst_net fd00::/8 → accept, reject"]],
  ["net 10.0.0.0 mask 255.0.255.0", ["0 src_net 10.0.0.0 mask 255.0.255.0 → accept, 1", "1 dst_net 10.0.0.0 mask 255.0.255.0 → accept, reject"]],
  ["udp dst portrange 6000-6008", ["0 proto 17 → 1, reject", "1 dport 6000-6008 → accept, reject"]],
  ["(tcp or udp) and less 100", ["0 proto 6 → 2, 1", "1 proto 17 → 2, reject", "2 len_le 100 → accept, reject"]],
  ["len != 100", ["0 len_ge 100 → 1, accept", "1 len_le 100 → reject, accept"]],
  ["ip or ip6", ["0 true → accept, accept"]],
  ["ip and ip6", ["0 true → reject, reject"]],
];

for (const [text, lines] of programs) {
  test(`program of ${JSON.stringify(text)}`, () => assert.deepEqual(disassemble(program(text)), lines));
}

test("a program over 64 instructions is an error naming its size", () => {
  const hosts = Array.from({ length: 33 }, (_, i) => `10.0.0.${i + 1}`).join(" or ");
  assert.deepEqual(buildFilter(`host ${hosts}`), { ok: false, error: "the filter compiles to 66 instructions; the kernel takes at most 64",
    message: "the filter compiles to 66 instructions; the kernel takes at most 64" });
  assert.equal(program(`host ${hosts.split(" or ").slice(0, 32).join(" or ")}`).length, 64);
});

test("a tunnelled packet: the inner header first, then the outer one", () => {
  const p = program("udp port 53");
  const outer = pkt("udp 192.0.2.1:4789 > 192.0.2.2:4789");
  assert.equal(evaluateLayers(p, [dns, outer]), true);
  assert.equal(evaluateLayers(program("udp port 4789"), [dns, outer]), true);
  assert.equal(evaluateLayers(program("tcp"), [dns, outer]), false);
});

test("the evaluator rejects what the BPF side refuses to run: backward jumps, unknown ops, running off the end", () => {
  const [first] = program("tcp");
  assert.ok(first);
  assert.equal(evaluate([{ ...first, jt: 0 }], web), false);
  assert.equal(evaluate([{ ...first, jt: 1 }], web), false);
  assert.equal(evaluate([{ ...first, op: 10 as 0 }], web), false);
  assert.equal(evaluate([], web), false);
});

/** [shorthands, FILTER, canonical text] */
const shorthands: [Shorthands, string, string][] = [
  [{}, "", ""],
  [{ proto: "icmp-echo" }, "", "icmp-echo"],
  [{ proto: "any" }, "", "ip or ip6"],
  [{ proto: "icmp" }, "", "icmp or icmp6"],
  [{ proto: "tcp" }, "", "tcp"],
  [{ proto: "udp", port: 53 }, "", "udp and port 53"],
  [{ host: "10.0.0.1" }, "", "icmp-echo and host 10.0.0.1"],
  [{ proto: "any", host: "fd00::2", port: 53 }, "", "host fd00::2 and port 53"],
  [{ host: "10.0.0.1" }, "tcp", "tcp and host 10.0.0.1"],
  [{ proto: "icmp-echo" }, "host 10.0.0.1 or 10.0.0.2", "(host 10.0.0.1 or host 10.0.0.2) and icmp-echo"],
  [{ proto: "any" }, "tcp", "tcp"],
  [{ port: 443 }, "tcp or udp", "(tcp or udp) and port 443"],
];

for (const [s, text, canonical] of shorthands) {
  test(`shorthands ${JSON.stringify(s)} with FILTER ${JSON.stringify(text)}`, () => {
    const r = buildFilter(text, s);
    assert.ok(r.ok, r.ok ? "" : r.error);
    assert.equal(r.value.expression, canonical);
    const again = buildFilter(canonical);
    assert.ok(again.ok, again.ok ? "" : again.error);
    assert.deepEqual(again.value.program, r.value.program, "the canonical text compiles to the same program");
  });
}

test("--proto any is one TRUE; the default is one ECHO", () => {
  const r = buildFilter("", { proto: "any" });
  assert.ok(r.ok);
  assert.deepEqual(disassemble(r.value.program), ["0 true → accept, accept"]);
  assert.deepEqual(shorthandExpr({ host: "example.com" }, null),
    { ok: false, error: '--host "example.com": expected an IPv4 or IPv6 address', message: '--host "example.com": expected an IPv4 or IPv6 address' });
});
