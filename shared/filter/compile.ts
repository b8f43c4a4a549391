// Parse tree → the instruction table of bpf/pktpath.h. Two steps: lower each primitive to tests the
// BPF side can make (`port 80` = sport 80 or dport 80), folding constants; then lay the boolean tree
// out as a decision list, where `a and b` falls through from a to b on true and `a or b` on false,
// so every jump is forward by construction.
import type { Dir, Expr } from "./ast.ts";
import type { FilterResult } from "./parse.ts";
import { ACCEPT, defaultProgram, FILTER_MAX, FOP, insn, REJECT, type FilterOp, type FilterProgram } from "./program.ts";

type Cond =
  | { kind: "test"; op: FilterOp; arg: number; addr?: Uint8Array; mask?: Uint8Array }
  | { kind: "and" | "or"; left: Cond; right: Cond }
  | { kind: "not"; cond: Cond }
  | { kind: "const"; value: boolean };

const test = (op: FilterOp, arg: number, addr?: Uint8Array, mask?: Uint8Array): Cond =>
  (addr && mask ? { kind: "test", op, arg, addr, mask } : { kind: "test", op, arg });

const TRUE: Cond = { kind: "const", value: true };
const FALSE: Cond = { kind: "const", value: false };

/** `ip` against `ip6`: the filter only ever sees IPv4 and IPv6 headers, so one of them holds. */
function otherFamilies(a: Cond, b: Cond): boolean {
  return a.kind === "test" && b.kind === "test" && a.op === FOP.FAMILY && b.op === FOP.FAMILY && a.arg !== b.arg;
}

function both(left: Cond, right: Cond): Cond {
  if (left === FALSE || right === FALSE || otherFamilies(left, right)) return FALSE;
  if (left === TRUE) return right;
  if (right === TRUE) return left;
  return { kind: "and", left, right };
}

function either(left: Cond, right: Cond): Cond {
  if (left === TRUE || right === TRUE || otherFamilies(left, right)) return TRUE;
  if (left === FALSE) return right;
  if (right === FALSE) return left;
  return { kind: "or", left, right };
}

function negate(c: Cond): Cond {
  if (c.kind === "const") return c.value ? FALSE : TRUE;
  if (c.kind === "not") return c.cond;
  return { kind: "not", cond: c };
}

function directed(dir: Dir, src: Cond, dst: Cond): Cond {
  switch (dir) {
    case "src": return src;
    case "dst": return dst;
    case "src and dst": return both(src, dst);
    case "src or dst": return either(src, dst);
  }
}

function lower(e: Expr): Cond {
  switch (e.kind) {
    case "and": return both(lower(e.left), lower(e.right));
    case "or": return either(lower(e.left), lower(e.right));
    case "not": return negate(lower(e.expr));
    case "family": return test(FOP.FAMILY, e.family);
    case "proto":
      return e.family === undefined ? test(FOP.PROTO, e.proto) : both(test(FOP.FAMILY, e.family), test(FOP.PROTO, e.proto));
    case "net":
      return directed(e.dir, test(FOP.SRC_NET, e.family, e.addr, e.mask), test(FOP.DST_NET, e.family, e.addr, e.mask));
    case "port": {
      const range = e.lo + e.hi * 0x10000;
      const ports = directed(e.dir, test(FOP.SPORT, range), test(FOP.DPORT, range));
      return e.proto === undefined ? ports : both(test(FOP.PROTO, e.proto), ports);
    }
    case "len": return test(e.cmp === "le" ? FOP.LEN_LE : FOP.LEN_GE, e.value);
    case "echo": return test(FOP.ECHO, 0);
  }
}

/** A jump target while laying out: a label (bound to an index later), or the end of the run. */
type Target = { label: number } | typeof ACCEPT | typeof REJECT;

interface Draft {
  cond: Extract<Cond, { kind: "test" }> | { kind: "const" };
  jt: Target;
  jf: Target;
}

class Layout {
  readonly drafts: Draft[] = [];
  private readonly labels: number[] = [];

  label(): { label: number } {
    this.labels.push(-1);
    return { label: this.labels.length - 1 };
  }

  bind(l: { label: number }): void {
    this.labels[l.label] = this.drafts.length;
  }

  emit(c: Cond, jt: Target, jf: Target): void {
    switch (c.kind) {
      case "test":
      case "const":
        this.drafts.push({ cond: c.kind === "test" ? c : { kind: "const" }, jt, jf });
        return;
      case "not":
        return this.emit(c.cond, jf, jt);
      case "and":
      case "or": {
        const rest = this.label();
        if (c.kind === "and") this.emit(c.left, rest, jf);
        else this.emit(c.left, jt, rest);
        this.bind(rest);
        return this.emit(c.right, jt, jf);
      }
    }
  }

  resolve(t: Target): number {
    return typeof t === "number" ? t : (this.labels[t.label] ?? REJECT);
  }
}

/** Compiles a parse tree (null: the default filter) to at most FILTER_MAX instructions. */
export function compile(expr: Expr | null): FilterResult<FilterProgram> {
  if (expr === null) return { ok: true, value: defaultProgram() };
  const cond = lower(expr);
  const layout = new Layout();
  // A constant is one TRUE test whose both ways end the run.
  if (cond.kind === "const") layout.emit(cond, cond.value ? ACCEPT : REJECT, cond.value ? ACCEPT : REJECT);
  else layout.emit(cond, ACCEPT, REJECT);
  const n = layout.drafts.length;
  if (n > FILTER_MAX) {
    const message = `the filter compiles to ${n} instructions; the kernel takes at most ${FILTER_MAX}`;
    return { ok: false, error: message, message };
  }
  return { ok: true, value: layout.drafts.map((d) => d.cond.kind === "const"
    ? insn(FOP.TRUE, 0, layout.resolve(d.jt), layout.resolve(d.jf))
    : insn(d.cond.op, d.cond.arg, layout.resolve(d.jt), layout.resolve(d.jf), d.cond.addr, d.cond.mask)) };
}
