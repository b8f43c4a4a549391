// The value after a qualifier list (`host 10.0.0.1`, `net 10.0.0.0/8`, `port 80`, `proto 6`): read
// with the qualifiers in force, as pcap's gen_ncode/gen_mcode/gen_scode would, into a primitive.
import {
  familyBytes, hasHostBits, parseAddress, parseIPv4Octets, prefixMask, ADDR_LEN, type Family,
} from "./addr.ts";
import type { Dir, Expr } from "./ast.ts";
import type { Token } from "./lexer.ts";
import { PROTO_NAMES, type Pname } from "./words.ts";

export type AddrType = "host" | "net" | "port" | "portrange" | "proto";

/** pcap's qualifier list: protocol, direction, address type (each may be absent). */
export interface Quals {
  pname?: Pname;
  dir?: Dir;
  type?: AddrType;
}

export type Parsed<T> = { ok: true; value: T } | { ok: false; message: string; column: number };

export const fail = (message: string, column: number): { ok: false; message: string; column: number } =>
  ({ ok: false, message, column });

export interface Cursor {
  peek(ahead?: number): Token;
  next(): Token;
}

/** A number as pcap's scanner reads one: decimal, 0x hex, or octal with a leading 0. */
export function parseNumber(text: string): number | undefined {
  if (/^0[xX][0-9a-fA-F]+$/.test(text)) return parseInt(text.slice(2), 16);
  if (/^0[0-7]*$/.test(text)) return parseInt(text, 8);
  if (/^[1-9][0-9]*$/.test(text)) return Number(text);
  return undefined;
}

/** The qualifiers as written: "tcp dst port". */
export const qualsText = (q: Quals): string => [q.pname, q.dir, q.type].filter((w) => w !== undefined).join(" ");

const familyOf = (pname: Pname | undefined): Family | undefined =>
  pname === "ip" ? 4 : pname === "ip6" ? 6 : undefined;

/** `ip host fd00::1` cannot match: the protocol qualifier names the other family. */
function familyClash(q: Quals, family: Family, tok: Token): Parsed<never> | undefined {
  const want = familyOf(q.pname);
  if (want === undefined || want === family) return undefined;
  return fail(`"${qualsText(q)}" takes an IPv${want} address, not ${tok.text}`, tok.col);
}

const isOp = (t: Token, text: string): boolean => t.kind === "op" && t.text === text;
const isMask = (t: Token): boolean => t.kind === "word" && !t.escaped && t.text === "mask";

function notAnAddress(tok: Token, what: string): Parsed<never> {
  if (!tok.escaped && /^[0-9a-fA-F.:]+$/.test(tok.text)) return fail(`"${tok.text}" is not an IPv4 or IPv6 address`, tok.col);
  return fail(`"${tok.text}" is not ${what} (a name would need DNS, which pktpath filters do not use)`, tok.col);
}

function hostValue(q: Quals, tok: Token, c: Cursor): Parsed<Expr> {
  const word = q.type === "host" ? "host" : (q.dir ?? "host");
  const octets = tok.escaped ? undefined : parseIPv4Octets(tok.text);
  if (octets && octets.length < 4) {
    return fail(`"${tok.text}" is not a whole address: a network is written net ${tok.text}`, tok.col);
  }
  const a = tok.escaped ? undefined : parseAddress(tok.text);
  if (!a) return notAnAddress(tok, "an IPv4 or IPv6 address");
  if (isOp(c.peek(), "%")) return fail(`scoped addresses (${tok.text}%…) are not supported: give the address alone`, c.peek().col);
  if (isOp(c.peek(), "/") || isMask(c.peek())) {
    return fail(`"${word}" takes one address: a prefix is written net ${tok.text}/N`, c.peek().col);
  }
  const clash = familyClash(q, a.family, tok);
  if (clash) return clash;
  return { ok: true, value: { kind: "net", dir: q.dir ?? "src or dst", family: a.family, addr: a.bytes,
    mask: prefixMask(a.family === 4 ? 32 : 128), host: true } };
}

/** The mask after the address: `/len`, `mask M` (IPv4 only), or none (the octets or the whole address). */
function netMask(family: Family, given: number, tok: Token, c: Cursor): Parsed<{ mask: Uint8Array; text: string }> {
  const max = familyBytes(family) * 8;
  if (isOp(c.peek(), "/")) {
    c.next();
    const lenTok = c.next();
    const bits = lenTok.kind === "word" && !lenTok.escaped ? parseNumber(lenTok.text) : undefined;
    if (bits === undefined) return fail(`expected a prefix length after "${tok.text}/"`, lenTok.col);
    if (bits > max) return fail(`prefix length ${bits} is more than ${max}`, lenTok.col);
    return { ok: true, value: { mask: prefixMask(bits), text: `${tok.text}/${lenTok.text}` } };
  }
  if (isMask(c.peek())) {
    const maskWord = c.next();
    if (family === 6) return fail(`"mask" takes IPv4 networks: write ${tok.text}/N`, maskWord.col);
    const m = c.next();
    const bytes = m.kind === "word" && !m.escaped ? parseAddress(m.text) : undefined;
    if (bytes?.family !== 4) return fail(`expected an IPv4 netmask after "mask"`, m.col);
    return { ok: true, value: { mask: bytes.bytes, text: `${tok.text} mask ${m.text}` } };
  }
  return { ok: true, value: { mask: prefixMask(given), text: tok.text } };
}

function netValue(q: Quals, tok: Token, c: Cursor): Parsed<Expr> {
  const octets = tok.escaped || tok.text.includes(":") ? undefined : parseIPv4Octets(tok.text);
  const v6 = tok.escaped || octets ? undefined : parseAddress(tok.text);
  if (!octets && !v6) return notAnAddress(tok, "a network address");
  const family: Family = octets ? 4 : 6;
  const addr = new Uint8Array(ADDR_LEN);
  if (octets) addr.set(octets);
  else if (v6) addr.set(v6.bytes);
  const m = netMask(family, octets ? octets.length * 8 : 128, tok, c);
  if (!m.ok) return m;
  if (hasHostBits(addr, m.value.mask)) {
    return fail(`"${m.value.text}" has bits set outside its network part (a host is written host ADDR)`, tok.col);
  }
  const clash = familyClash(q, family, tok);
  if (clash) return clash;
  return { ok: true, value: { kind: "net", dir: q.dir ?? "src or dst", family, addr, mask: m.value.mask, host: false } };
}

function portNumber(tok: Token, text: string): Parsed<number> {
  const n = tok.escaped ? undefined : parseNumber(text);
  if (n === undefined) {
    if (!tok.escaped && /^[0-9]+$/.test(text)) return fail(`"${text}" is not a number (a leading 0 means octal)`, tok.col);
    return fail(`port names ("${tok.text}") are not supported: give the number`, tok.col);
  }
  if (n > 65535) return fail(`port ${text} is more than 65535`, tok.col);
  return { ok: true, value: n };
}

function portValue(q: Quals, tok: Token): Parsed<Expr> {
  const dir = q.dir ?? "src or dst";
  const proto = q.pname === "tcp" ? 6 : q.pname === "udp" ? 17 : undefined;
  const parts = tok.escaped ? [tok.text] : tok.text.split("-");
  if (parts.length === 2 && q.type === "port") return fail(`"${tok.text}" is a range: write portrange ${tok.text}`, tok.col);
  if (parts.length > 2 || (parts.length === 2 && (parts[0] === "" || parts[1] === ""))) {
    return fail(`expected a port range (LOW-HIGH), not "${tok.text}"`, tok.col);
  }
  const lo = portNumber(tok, parts[0] ?? "");
  if (!lo.ok) return lo;
  const hi = portNumber(tok, parts[1] ?? parts[0] ?? "");
  if (!hi.ok) return hi;
  // pcap swaps a backward range
  const [a, b] = lo.value <= hi.value ? [lo.value, hi.value] : [hi.value, lo.value];
  const node: Expr = { kind: "port", dir, lo: a, hi: b, range: q.type === "portrange" };
  if (proto !== undefined) node.proto = proto;
  return { ok: true, value: node };
}

function protoValue(q: Quals, tok: Token): Parsed<Expr> {
  const n = tok.escaped ? PROTO_NAMES[tok.text] : parseNumber(tok.text);
  if (n === undefined) {
    return fail(tok.escaped ? `unknown protocol name "\\${tok.text}" (known: ${Object.keys(PROTO_NAMES).map((k) => `\\${k}`).join(", ")})`
      : `expected a protocol number after "proto", not "${tok.text}" (a name is written \\tcp)`, tok.col);
  }
  if (n > 255) return fail(`protocol ${tok.text} is more than 255`, tok.col);
  const family = familyOf(q.pname);
  return { ok: true, value: family === undefined ? { kind: "proto", proto: n } : { kind: "proto", family, proto: n } };
}

/** The primitive a value makes under the qualifiers in force. */
export function valuePrimitive(q: Quals, tok: Token, c: Cursor): Parsed<Expr> {
  switch (q.type) {
    case "proto": return protoValue(q, tok);
    case "port":
    case "portrange": return portValue(q, tok);
    case "net": return netValue(q, tok, c);
    default: return hostValue(q, tok, c);
  }
}

/** What a qualifier list expects next, for "expected … after" messages. */
export function expectedValue(q: Quals): string {
  switch (q.type) {
    case "proto": return "a protocol number";
    case "port": return "a port number";
    case "portrange": return "a port range (LOW-HIGH)";
    case "net": return "a network (ADDR/LEN or ADDR mask MASK)";
    case "host": return "a host address";
    default: return "an address";
  }
}
