// The pcap-filter grammar pktpath supports (man pcap-filter; libpcap's grammar.y), by recursive descent:
//   expr  := term { (and | or) (id | term) }     and, or: equal precedence, left to right
//   term  := not term | "(" expr ")" | primitive
//   primitive := [pname] [dir] [type] id | pname | less N | greater N | len RELOP N | icmp-echo
//   id    := not id | "(" id { (and | or) id } ")" | VALUE
// A bare id after and/or repeats the qualifiers of the term before it (`port 80 or 443`); a
// parenthesised expr hands on the qualifiers in force before its "(" (grammar.y's `paren`).
import { and, not, or, IPPROTO, type Dir, type Expr } from "./ast.ts";
import { tokenize, type Token } from "./lexer.ts";
import { expectedValue, fail, parseNumber, qualsText, valuePrimitive, type AddrType, type Parsed, type Quals } from "./values.ts";
import { isKeyword, isPname, refusal, type Pname } from "./words.ts";

/** A failure carries the whole line (`error`) and its parts, so the page can point at the column. */
export type FilterResult<T> = { ok: true; value: T } | { ok: false; error: string; message: string; column?: number };

interface Step {
  expr: Expr;
  /** the qualifiers a following bare value repeats; undefined after `tcp`, `less 10`… (pcap's qerr) */
  q: Quals | undefined;
}

const TYPES: readonly AddrType[] = ["host", "net", "port", "portrange", "proto"];
const isType = (t: Token): t is Token & { text: AddrType } => isWord(t) && (TYPES as readonly string[]).includes(t.text);
const QUALIFIER_WORDS = ["src", "dst", ...TYPES, "gateway", "protochain", "broadcast", "multicast"];
const RELOPS = ["<", "<=", ">", ">=", "=", "==", "!="];
const ARITH = ["+", "-", "*", "/", "%", "&", "|", "^", "<<", ">>", "["];
const PRIMITIVES = "a primitive (host, net, port, portrange, proto, tcp, udp, icmp, icmp6, ip, ip6, less, greater)";
const MAX_U32 = 0xffffffff;

const PNAME_PROTO: Record<Pname, Expr> = {
  ip: { kind: "family", family: 4 },
  ip6: { kind: "family", family: 6 },
  tcp: { kind: "proto", proto: IPPROTO.TCP },
  udp: { kind: "proto", proto: IPPROTO.UDP },
  icmp: { kind: "proto", family: 4, proto: IPPROTO.ICMP },
  icmp6: { kind: "proto", family: 6, proto: IPPROTO.ICMPV6 },
};

const isWord = (t: Token, w?: string): boolean => t.kind === "word" && !t.escaped && (w === undefined || t.text === w);
const isOp = (t: Token, ...ops: string[]): boolean => t.kind === "op" && ops.includes(t.text);
const isAnd = (t: Token): boolean => isWord(t, "and") || isOp(t, "&&");
const isOr = (t: Token): boolean => isWord(t, "or") || isOp(t, "||");
const isNot = (t: Token): boolean => isWord(t, "not") || isOp(t, "!");
/** A value: a word that is no keyword, or any word escaped with "\". */
const isValue = (t: Token): boolean => t.kind === "word" && (t.escaped || !isKeyword(t.text));
const shown = (t: Token): string => (t.kind === "end" ? "the end" : `"${t.escaped ? "\\" : ""}${t.text}"`);

class Parser {
  private pos = 0;
  constructor(private readonly tokens: Token[]) {}

  peek(ahead = 0): Token {
    return this.tokens[Math.min(this.pos + ahead, this.tokens.length - 1)] ?? { kind: "end", text: "", col: 1, escaped: false };
  }

  next(): Token {
    const t = this.peek();
    if (this.pos < this.tokens.length - 1) this.pos++;
    return t;
  }

  private prev(): Token | undefined {
    return this.pos > 0 ? this.tokens[this.pos - 1] : undefined;
  }

  /** What a message says was expected, and after which word. */
  private expected(what: string, t = this.peek()): Parsed<never> {
    const prev = this.prev();
    const found = t.kind === "end" ? "" : `, not ${shown(t)}`;
    return fail(`expected ${what}${prev ? ` after "${prev.text}"` : ""}${found}`, t.col);
  }

  expr(q: Quals | undefined): Parsed<Step> {
    const first = this.term(q);
    if (!first.ok) return first;
    let { expr, q: cur } = first.value;
    while (isAnd(this.peek()) || isOr(this.peek())) {
      const join = isAnd(this.next()) ? and : or;
      const rhs = this.startsId() ? this.id(cur) : this.term(cur);
      if (!rhs.ok) return rhs;
      expr = join(expr, rhs.value.expr);
      cur = rhs.value.q;
    }
    return { ok: true, value: { expr, q: cur } };
  }

  /** Whether a bare value comes next, behind any "not"s and "("s: then it repeats the qualifiers. */
  private startsId(): boolean {
    let k = 0;
    while (isNot(this.peek(k)) || isOp(this.peek(k), "(")) k++;
    return isValue(this.peek(k));
  }

  private term(q: Quals | undefined): Parsed<Step> {
    const t = this.peek();
    if (isNot(t)) {
      this.next();
      const inner = this.term(q);
      return inner.ok ? { ok: true, value: { expr: not(inner.value.expr), q: inner.value.q } } : inner;
    }
    if (isOp(t, "(")) {
      this.next();
      const inner = this.expr(q);
      if (!inner.ok) return inner;
      const close = this.closeParen(t);
      return close.ok ? { ok: true, value: { expr: inner.value.expr, q } } : close;
    }
    return this.primitive();
  }

  private closeParen(open: Token): Parsed<void> {
    const t = this.peek();
    if (isOp(t, ")")) return (this.next(), { ok: true, value: undefined });
    if (t.kind === "end") return fail(`expected ")" for the "(" in column ${open.col}`, t.col);
    return fail(`expected "and", "or" or ")" before ${shown(t)}`, t.col);
  }

  private primitive(): Parsed<Step> {
    const t = this.peek();
    if (t.kind === "end") return this.expected("an expression");
    if (t.kind === "op" || isAnd(t) || isOr(t)) return this.expected(PRIMITIVES);
    if (isValue(t)) return this.bareValue(t);
    const why = refusal(t.text);
    if (why !== undefined) {
      const after = this.peek(1);
      const name = isWord(after) && QUALIFIER_WORDS.includes(after.text) ? `${t.text} ${after.text}` : t.text;
      return fail(`\`${name}\` is not supported: ${why}`, t.col);
    }
    this.next();
    switch (t.text) {
      case "icmp-echo": return { ok: true, value: { expr: { kind: "echo" }, q: undefined } };
      case "less": return this.length(t, "le");
      case "greater": return this.length(t, "ge");
      case "len": case "length": return this.relation(t);
      case "mask": return fail(`"mask" follows a network address (net 10.0.0.0 mask 255.0.0.0)`, t.col);
    }
    if (isPname(t.text)) return this.protocol(t, t.text);
    return this.head(undefined, undefined, t);
  }

  /** A value where a primitive belongs: pcap gives it nothing to repeat. */
  private bareValue(t: Token): Parsed<Step> {
    if (!t.escaped && isKeyword(t.text.toLowerCase())) {
      return fail(`unknown word "${t.text}" (pcap-filter's keywords are lower case: ${t.text.toLowerCase()})`, t.col);
    }
    if (isOp(this.peek(1), ...RELOPS)) return fail(`comparisons are supported as "len OP N" only`, t.col);
    return fail(`expected host, net, port or proto before "${t.text}"`, t.col);
  }

  /** After a protocol name: the name alone (`tcp`), or the protocol qualifier of a head (`tcp port 80`). */
  private protocol(t: Token, pname: Pname): Parsed<Step> {
    const after = this.peek();
    if (isOp(after, "[")) return fail(`\`${pname}[…]\` byte offsets are not supported: pktpath filters on header fields`, t.col);
    if (isWord(after) && QUALIFIER_WORDS.includes(after.text)) return this.head(pname, t, this.next());
    return { ok: true, value: { expr: { ...PNAME_PROTO[pname] }, q: undefined } };
  }

  /** [pname] dir [type] id, or [pname] type id; `first` is the (consumed) word after the protocol, if any. */
  private head(pname: Pname | undefined, pnameTok: Token | undefined, first: Token): Parsed<Step> {
    const q: Quals = {};
    if (pname) q.pname = pname;
    let t = first;
    if (t.text === "src" || t.text === "dst") {
      q.dir = this.direction(t.text);
      t = this.peek();
      if (isType(t)) this.next();
    }
    const why = refusal(t.text);
    if (isWord(t) && why !== undefined) return fail(`\`${[pname, q.dir, t.text].filter(Boolean).join(" ")}\` is not supported: ${why}`, t.col);
    if (isType(t)) {
      if (t.text === "proto" && q.dir) return fail(`"proto" takes no direction: write ${[pname, "proto N"].filter(Boolean).join(" ")}`, t.col);
      q.type = t.text;
    }
    const bad = pnameTok && this.clash(q, pnameTok);
    if (bad) return bad;
    const value = this.id(q);
    return value.ok ? { ok: true, value: { expr: value.value.expr, q } } : value;
  }

  /** `src`, `dst`, `src or dst`, `src and dst` (and the same with dst first). */
  private direction(first: "src" | "dst"): Dir {
    const other = first === "src" ? "dst" : "src";
    const join = this.peek();
    if ((isAnd(join) || isOr(join)) && isWord(this.peek(1), other)) {
      this.next();
      this.next();
      return isAnd(join) ? "src and dst" : "src or dst";
    }
    return first;
  }

  /** Qualifier lists pcap refuses: `tcp host`, `ip port`, `icmp proto`. */
  private clash(q: Quals, at: Token): Parsed<never> | undefined {
    const family = q.pname === undefined || q.pname === "ip" || q.pname === "ip6";
    const transport = q.pname === undefined || q.pname === "tcp" || q.pname === "udp";
    const type = q.type ?? "host";
    if ((type === "host" || type === "net" || type === "proto") && !family) {
      return fail(`"${qualsText(q)}" is not valid: ${type} takes ip or ip6 before it, or no protocol`, at.col);
    }
    if ((type === "port" || type === "portrange") && !transport) {
      return fail(`"${qualsText(q)}" is not valid: ${type} takes tcp or udp before it, or no protocol`, at.col);
    }
    return undefined;
  }

  /** not id | "(" id {and|or id} ")" | VALUE, under the qualifiers q. */
  private id(q: Quals | undefined): Parsed<Step> {
    const t = this.peek();
    if (isNot(t)) {
      this.next();
      const inner = this.id(q);
      return inner.ok ? { ok: true, value: { expr: not(inner.value.expr), q } } : inner;
    }
    if (isOp(t, "(")) {
      this.next();
      const inner = this.idList(q);
      if (!inner.ok) return inner;
      const close = this.closeParen(t);
      return close.ok ? inner : close;
    }
    if (!isValue(t)) return this.expected(q ? expectedValue(q) : "an expression");
    if (q === undefined) return this.bareValue(t);
    this.next();
    const prim = valuePrimitive(q, t, this);
    return prim.ok ? { ok: true, value: { expr: prim.value, q } } : prim;
  }

  private idList(q: Quals | undefined): Parsed<Step> {
    const first = this.id(q);
    if (!first.ok) return first;
    let expr = first.value.expr;
    while (isAnd(this.peek()) || isOr(this.peek())) {
      const join = isAnd(this.next()) ? and : or;
      const rhs = this.id(q);
      if (!rhs.ok) return rhs;
      expr = join(expr, rhs.value.expr);
    }
    return { ok: true, value: { expr, q } };
  }

  private number(what: string): Parsed<number> {
    const t = this.peek();
    const n = isWord(t) ? parseNumber(t.text) : undefined;
    if (n === undefined || n > MAX_U32) return this.expected(what);
    this.next();
    return { ok: true, value: n };
  }

  /** `less N`, `greater N`. */
  private length(t: Token, cmp: "le" | "ge"): Parsed<Step> {
    const n = this.number(`a length in bytes`);
    return n.ok ? { ok: true, value: { expr: { kind: "len", cmp, value: n.value }, q: undefined } } : n;
  }

  /** `len OP N`: the one comparison pktpath supports, as less/greater. */
  private relation(t: Token): Parsed<Step> {
    const op = this.peek();
    if (!isOp(op, ...RELOPS)) {
      if (isOp(op, ...ARITH)) return fail(`arithmetic on "${t.text}" is not supported: compare it with a number (len >= 100)`, op.col);
      return this.expected(`a comparison (<, <=, >, >=, ==, !=)`);
    }
    this.next();
    const n = this.number("a length in bytes");
    if (!n.ok) return n;
    if (isOp(this.peek(), ...ARITH)) return fail(`arithmetic is not supported: compare ${t.text} with a number`, this.peek().col);
    const le = (v: number): Expr => ({ kind: "len", cmp: "le", value: v });
    const ge = (v: number): Expr => ({ kind: "len", cmp: "ge", value: v });
    const v = n.value;
    const never = (): Parsed<Step> => fail(`"${t.text} ${op.text} ${v}" never holds`, op.col);
    const done = (expr: Expr): Parsed<Step> => ({ ok: true, value: { expr, q: undefined } });
    switch (op.text) {
      case "<=": return done(le(v));
      case ">=": return done(ge(v));
      case "<": return v === 0 ? never() : done(le(v - 1));
      case ">": return v === MAX_U32 ? never() : done(ge(v + 1));
      case "!=": return done(not(and(ge(v), le(v))));
      default: return done(and(ge(v), le(v)));
    }
  }
}

/** Parses a pcap-filter expression. Empty text (or only blanks) is `null`: the default filter. */
export function parse(text: string): FilterResult<Expr | null> {
  const lexed = tokenize(text);
  const failed = (message: string, column: number): FilterResult<never> =>
    ({ ok: false, error: `${message} at column ${column}`, message, column });
  if (!lexed.ok) return failed(lexed.error.message, lexed.error.column);
  const p = new Parser(lexed.tokens);
  if (p.peek().kind === "end") return { ok: true, value: null };
  const r = p.expr(undefined);
  if (!r.ok) return failed(r.message, r.column);
  const t = p.peek();
  if (t.kind === "end") return { ok: true, value: r.value.expr };
  if (isOp(t, ")")) return failed(`unexpected ")" (no "(" to close)`, t.col);
  return failed(`expected "and" or "or" before ${shown(t)}`, t.col);
}
