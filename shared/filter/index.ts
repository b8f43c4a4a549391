// The capture filter: a pcap-filter expression (and the --proto/--host/--port shorthands) → parse tree,
// canonical text and the program the BPF side runs. See parse.ts for the grammar, compile.ts for the
// program, evaluate.ts for how the kernel runs it, encode.ts for its bytes.
import { parseAddress, prefixMask } from "./addr.ts";
import { and, or, IPPROTO, type Expr } from "./ast.ts";
import { compile } from "./compile.ts";
import { parse, type FilterResult } from "./parse.ts";
import { printExpr } from "./print.ts";
import type { FilterProgram } from "./program.ts";

export { parseAddress, formatAddress, type Address, type Family } from "./addr.ts";
export type { Dir, Expr } from "./ast.ts";
export { compile } from "./compile.ts";
export { decodeProgram, encodeProgram, FILTER_BYTES, FILTER_F_LEN, FILTER_INSN_LAYOUT, FILTER_LAYOUT, INSN_BYTES } from "./encode.ts";
export { evaluate, evaluateLayers, holds, type FilterHeader } from "./evaluate.ts";
export { parse, type FilterResult } from "./parse.ts";
export { printExpr } from "./print.ts";
export {
  ACCEPT, checkProgram, defaultProgram, disassemble, FILTER_MAX, FOP, REJECT, type FilterInsn, type FilterOp, type FilterProgram,
} from "./program.ts";

export type ShorthandProto = "icmp-echo" | "any" | "icmp" | "tcp" | "udp";

/** `trace`/`record`'s --proto, --host, --port, as given (absent when not given). */
export interface Shorthands {
  proto?: ShorthandProto;
  /** an IPv4 or IPv6 address */
  host?: string;
  port?: number;
}

export interface CompiledFilter {
  /** null: the default filter (no FILTER and no shorthand) */
  expr: Expr | null;
  /** canonical text of expr; "" for the default */
  expression: string;
  program: FilterProgram;
}

const PROTO_EXPR: Record<ShorthandProto, Expr> = {
  "icmp-echo": { kind: "echo" },
  // the filter sees IPv4 and IPv6 headers only: this compiles to one TRUE
  any: or({ kind: "family", family: 4 }, { kind: "family", family: 6 }),
  icmp: or({ kind: "proto", family: 4, proto: IPPROTO.ICMP }, { kind: "proto", family: 6, proto: IPPROTO.ICMPV6 }),
  tcp: { kind: "proto", proto: IPPROTO.TCP },
  udp: { kind: "proto", proto: IPPROTO.UDP },
};

/**
 * The shorthands as an expression, ANDed onto `filter` when there is one. Without a FILTER the
 * protocol defaults to icmp-echo, as before FILTER existed; `--proto any` next to anything else adds
 * nothing. null when neither gives anything (the default filter).
 */
export function shorthandExpr(s: Shorthands, filter: Expr | null): FilterResult<Expr | null> {
  const terms: Expr[] = filter ? [filter] : [];
  const proto = s.proto ?? (filter ? undefined : s.host !== undefined || s.port !== undefined ? "icmp-echo" : undefined);
  if (proto !== undefined) terms.push(PROTO_EXPR[proto]);
  if (s.host !== undefined) {
    const a = parseAddress(s.host);
    if (!a) {
      const message = `--host ${JSON.stringify(s.host)}: expected an IPv4 or IPv6 address`;
      return { ok: false, error: message, message };
    }
    terms.push({ kind: "net", dir: "src or dst", family: a.family, addr: a.bytes, mask: prefixMask(a.family === 4 ? 32 : 128), host: true });
  }
  if (s.port !== undefined && !(Number.isInteger(s.port) && s.port >= 0 && s.port <= 65535)) {
    const message = `--port ${s.port}: expected an integer from 0 to 65535`;
    return { ok: false, error: message, message };
  }
  if (s.port !== undefined) terms.push({ kind: "port", dir: "src or dst", lo: s.port, hi: s.port, range: false });
  const useful = terms.length > 1 ? terms.filter((t) => t !== PROTO_EXPR.any) : terms;
  const [first, ...rest] = useful;
  return { ok: true, value: first === undefined ? null : rest.reduce((acc, t) => and(acc, t), first) };
}

/** FILTER text (the words joined by spaces; "" for none) and the shorthands → the filter to run. */
export function buildFilter(text: string, s: Shorthands = {}): FilterResult<CompiledFilter> {
  const parsed = parse(text);
  if (!parsed.ok) return parsed;
  const expr = shorthandExpr(s, parsed.value);
  if (!expr.ok) return expr;
  const program = compile(expr.value);
  if (!program.ok) return program;
  return { ok: true, value: { expr: expr.value, expression: printExpr(expr.value), program: program.value } };
}
