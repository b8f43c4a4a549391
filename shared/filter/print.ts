// Parse tree → canonical expression text: what the page's header and /api/health show as the running
// filter. Every primitive spelled out in full, the words (`and`, `not`) rather than the signs, and
// parentheses wherever `and` and `or` meet (pcap gives them equal precedence, left to right, which
// few readers remember). parse(print(e)) compiles to the same program as e.
import { formatAddress, prefixLength } from "./addr.ts";
import { IPPROTO, type Expr } from "./ast.ts";

function protoText(e: Extract<Expr, { kind: "proto" }>): string {
  if (e.family === undefined && e.proto === IPPROTO.TCP) return "tcp";
  if (e.family === undefined && e.proto === IPPROTO.UDP) return "udp";
  if (e.family === 4 && e.proto === IPPROTO.ICMP) return "icmp";
  if (e.family === 6 && e.proto === IPPROTO.ICMPV6) return "icmp6";
  return `${e.family === 4 ? "ip " : e.family === 6 ? "ip6 " : ""}proto ${e.proto}`;
}

/** `src `, `dst `, `src and dst `, or nothing for the default `src or dst`. */
const dirText = (dir: string): string => (dir === "src or dst" ? "" : `${dir} `);

function netText(e: Extract<Expr, { kind: "net" }>): string {
  const addr = formatAddress(e.family, e.addr);
  if (e.host) return `${dirText(e.dir)}host ${addr}`;
  const len = prefixLength(e.family, e.mask);
  const mask = len === undefined ? ` mask ${formatAddress(e.family, e.mask)}` : `/${len}`;
  return `${dirText(e.dir)}net ${addr}${mask}`;
}

function portText(e: Extract<Expr, { kind: "port" }>): string {
  const proto = e.proto === IPPROTO.TCP ? "tcp " : e.proto === IPPROTO.UDP ? "udp " : "";
  const value = e.range ? `portrange ${e.lo}-${e.hi}` : `port ${e.lo}`;
  return `${proto}${dirText(e.dir)}${value}`;
}

function primitiveText(e: Expr): string {
  switch (e.kind) {
    case "family": return e.family === 4 ? "ip" : "ip6";
    case "proto": return protoText(e);
    case "net": return netText(e);
    case "port": return portText(e);
    case "len": return `${e.cmp === "le" ? "less" : "greater"} ${e.value}`;
    case "echo": return "icmp-echo";
    default: return "";
  }
}

/** An operand of `and`/`or`: parenthesised unless it is a primitive, a `not`, or the same operator. */
function operand(e: Expr, parent: "and" | "or"): string {
  const text = printExpr(e);
  return (e.kind === "and" || e.kind === "or") && e.kind !== parent ? `(${text})` : text;
}

/** The canonical text of a parse tree; "" for null (the default filter). */
export function printExpr(e: Expr | null): string {
  if (e === null) return "";
  switch (e.kind) {
    case "and":
    case "or":
      return `${operand(e.left, e.kind)} ${e.kind} ${operand(e.right, e.kind)}`;
    case "not": {
      const inner = printExpr(e.expr);
      return e.expr.kind === "and" || e.expr.kind === "or" ? `not (${inner})` : `not ${inner}`;
    }
    default:
      return primitiveText(e);
  }
}
