// The compiler against the meaning of the parse tree, on a seeded pseudo-random sweep: random
// expressions (written as text, so the parser is in the loop) on random packets. `matches` below
// says what a primitive means in pcap-filter terms, independently of compile.ts's lowering; the
// compiled program, run by the reference evaluator, must agree on every packet. Deterministic: a
// fixed seed, no clock.
import { test } from "node:test";
import assert from "node:assert/strict";
import {
  compile, evaluate, parse, parseAddress, printExpr, type Expr, type Family, type FilterHeader,
} from "../shared/filter/index.ts";

/** mulberry32: a small seeded generator, so a failure reproduces. */
function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function pick<T>(rnd: () => number, items: readonly T[]): T {
  const item = items[Math.floor(rnd() * items.length)];
  if (item === undefined) throw new Error("empty pool");
  return item;
}

function inNet(family: Family, a: Uint8Array, net: Uint8Array, mask: Uint8Array): boolean {
  const n = family === 4 ? 4 : 16;
  for (let i = 0; i < n; i++) if (((a[i] ?? 0) & (mask[i] ?? 0)) !== (net[i] ?? 0)) return false;
  return true;
}

function directed(dir: string, src: boolean, dst: boolean): boolean {
  return dir === "src" ? src : dir === "dst" ? dst : dir === "src and dst" ? src && dst : src || dst;
}

/** What the expression means for one header, read off the parse tree (pcap-filter's definitions). */
function matches(e: Expr, h: FilterHeader): boolean {
  switch (e.kind) {
    case "and": return matches(e.left, h) && matches(e.right, h);
    case "or": return matches(e.left, h) || matches(e.right, h);
    case "not": return !matches(e.expr, h);
    case "family": return h.family === e.family;
    case "proto": return (e.family === undefined || e.family === h.family) && h.proto === e.proto;
    case "net":
      return h.family === e.family && directed(e.dir, inNet(h.family, h.src, e.addr, e.mask), inNet(h.family, h.dst, e.addr, e.mask));
    case "port": {
      const transport = e.proto === undefined ? h.proto === 6 || h.proto === 17 : h.proto === e.proto;
      if (!transport || h.fragment) return false;
      const inRange = (p: number | undefined) => p !== undefined && p >= e.lo && p <= e.hi;
      return directed(e.dir, inRange(h.sport), inRange(h.dport));
    }
    case "len": return e.cmp === "le" ? h.len <= e.value : h.len >= e.value;
    case "echo": {
      const icmp = h.family === 4 ? 1 : 58;
      if (h.proto !== icmp || h.fragment) return false;
      const echoTypes = h.family === 4 ? [0, 8] : [128, 129];
      if (h.icmpType !== undefined && echoTypes.includes(h.icmpType)) return true;
      const q = h.quoted;
      return q !== undefined && q.proto === (q.family === 4 ? 1 : 58) && q.icmpType === (q.family === 4 ? 8 : 128);
    }
  }
}

const V4 = ["10.0.0.1", "10.0.0.2", "10.1.2.3", "192.168.1.1", "172.16.5.4", "10.0.1.255"];
const V6 = ["fd00::1", "fd00::2", "fe80::1", "2001:db8::1", "::1", "fd00:1::5"];
const PORTS = [0, 22, 53, 80, 443, 6000, 6004, 6008, 40000, 65535];

/** Primitives as text; the sweep joins them with and/or/not and parentheses. */
const PRIMITIVES = [
  "ip", "ip6", "tcp", "udp", "icmp", "icmp6", "icmp-echo", "host 10.0.0.1", "src host fd00::1", "dst host 10.0.0.2",
  "src and dst net 10.0.0.0/8", "net fd00::/16", "dst net 10.0.0.0/24", "net 192.168", "net 10.0.0.0 mask 255.0.0.255",
  "port 80", "udp portrange 0-53", "tcp dst port 443", "udp src port 53", "portrange 6000-6008", "src and dst portrange 1-1023",
  "tcp src or dst port 22", "less 100", "greater 1000", "len = 84", "proto 47", "ip6 proto 6", "ip proto 17",
  "host 10.0.0.1 or 10.0.0.2", "port 53 or 80", "not host fd00::2 and fd00::1", "tcp port 80 or 443",
];

function randomExpr(rnd: () => number, depth: number): string {
  if (depth === 0 || rnd() < 0.12) return pick(rnd, PRIMITIVES);
  const r = rnd();
  if (r < 0.15) return `${pick(rnd, ["not ", "! "])}${wrap(randomExpr(rnd, depth - 1))}`;
  const op = pick(rnd, ["and", "or", "&&", "||"]);
  const left = randomExpr(rnd, depth - 1), right = randomExpr(rnd, depth - 1);
  return `${rnd() < 0.5 ? wrap(left) : left} ${op} ${rnd() < 0.5 ? wrap(right) : right}`;
}

const wrap = (s: string): string => `(${s})`;

function randomHeader(rnd: () => number): FilterHeader {
  const family: Family = rnd() < 0.5 ? 4 : 6;
  const pool = family === 4 ? V4 : V6;
  const ip = (text: string) => parseAddress(text)?.bytes ?? new Uint8Array(16);
  const proto = pick(rnd, [6, 17, family === 4 ? 1 : 58, family === 4 ? 58 : 1, 47]);
  const fragment = rnd() < 0.2;
  const h: FilterHeader = { family, proto, src: ip(pick(rnd, pool)), dst: ip(pick(rnd, pool)),
    len: pick(rnd, [40, 60, 84, 99, 100, 101, 1000, 1500]), fragment };
  if ((proto === 6 || proto === 17) && !fragment && rnd() < 0.95) {
    h.sport = pick(rnd, PORTS);
    h.dport = pick(rnd, PORTS);
  }
  // A later fragment carries no transport header: the BPF side leaves those fields zero, which the
  // filter must not take for port 0 or an echo reply.
  if (fragment && rnd() < 0.7) {
    if (proto === 6 || proto === 17) [h.sport, h.dport] = [0, 0];
    else h.icmpType = 0;
  }
  if ((proto === 1 || proto === 58) && !fragment) {
    h.icmpType = pick(rnd, [0, 8, 3, 11, 128, 129, 1, 2]);
    if (rnd() < 0.4) {
      const qFamily: Family = rnd() < 0.8 ? family : family === 4 ? 6 : 4;
      h.quoted = { family: qFamily, proto: pick(rnd, [1, 58, 17, 6]) };
      if (rnd() < 0.8) h.quoted.icmpType = pick(rnd, [8, 128, 0, 129]);
    }
  }
  return h;
}

const shown = (h: FilterHeader): string =>
  JSON.stringify(h, (_k, v: unknown) => (v instanceof Uint8Array ? Array.from(v).join(".") : v));

test("compiled programs agree with the parse tree on a seeded sweep of expressions and packets", () => {
  const rnd = random(0x5eed);
  const packets = Array.from({ length: 400 }, () => randomHeader(rnd));
  let compiled = 0, tooBig = 0, accepted = 0, checks = 0;
  for (let n = 0; n < 600; n++) {
    const text = randomExpr(rnd, 5);
    const parsed = parse(text);
    assert.ok(parsed.ok, `${text}: ${parsed.ok ? "" : parsed.error}`);
    const expr = parsed.value;
    assert.ok(expr, text);
    const program = compile(expr);
    if (!program.ok) {
      assert.match(program.error, /^the filter compiles to (6[5-9]|[7-9]\d|\d{3}) instructions; the kernel takes at most 64$/);
      tooBig++;
      continue;
    }
    compiled++;
    // the canonical text means the same
    const again = parse(printExpr(expr));
    assert.ok(again.ok && again.value, printExpr(expr));
    for (const h of packets) {
      const want = matches(expr, h);
      if (evaluate(program.value, h) !== want) assert.fail(`${text} should be ${want} on ${shown(h)}`);
      if (matches(again.value, h) !== want) assert.fail(`canonical ${printExpr(expr)} should be ${want} on ${shown(h)}`);
      if (want) accepted++;
      checks++;
    }
  }
  // the sweep exercises both verdicts and the size limit, not one corner
  assert.ok(compiled > 450 && tooBig > 0, `${compiled} compiled, ${tooBig} too big`);
  assert.ok(accepted > checks / 10 && accepted < checks * 0.9, `${accepted} of ${checks} accepted`);
});
