// The parse tree of a filter expression: what the parser makes, the compiler and the printer read.
// Every primitive is complete (a bare value that repeated the previous qualifiers is spelled out).
import type { Family } from "./addr.ts";

/** Which addresses or ports a primitive tests: pcap's `src`, `dst`, `src or dst` (the default), `src and dst`. */
export type Dir = "src" | "dst" | "src or dst" | "src and dst";

export type Expr =
  | { kind: "and"; left: Expr; right: Expr }
  | { kind: "or"; left: Expr; right: Expr }
  | { kind: "not"; expr: Expr }
  /** `ip`, `ip6` */
  | { kind: "family"; family: Family }
  /** `tcp`, `udp` (either family), `icmp` (4, 1), `icmp6` (6, 58), `[ip|ip6] proto N` */
  | { kind: "proto"; family?: Family; proto: number }
  /** `host A` (host: true, the whole address) or `net A/len`, `net A mask M` */
  | { kind: "net"; dir: Dir; family: Family; addr: Uint8Array; mask: Uint8Array; host: boolean }
  /** `[tcp|udp] port N` (lo = hi, range: false) or `portrange lo-hi` */
  | { kind: "port"; dir: Dir; proto?: 6 | 17; lo: number; hi: number; range: boolean }
  /** `less N` (le: the packet's length is at most N) and `greater N` (ge: at least N) */
  | { kind: "len"; cmp: "le" | "ge"; value: number }
  /** pktpath's own `icmp-echo`: ICMP/ICMPv6 echo requests and replies and the ICMP errors about a
   * request — the filter when none is given, so the shorthand `--proto icmp-echo` has a spelling */
  | { kind: "echo" };

export const IPPROTO = { ICMP: 1, TCP: 6, UDP: 17, ICMPV6: 58 } as const;

export const and = (left: Expr, right: Expr): Expr => ({ kind: "and", left, right });
export const or = (left: Expr, right: Expr): Expr => ({ kind: "or", left, right });
export const not = (expr: Expr): Expr => ({ kind: "not", expr });
