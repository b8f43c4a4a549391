// Pairs journeys into exchanges: a request (echo request, SYN, datagram) and what answered it (a
// reply, a SYN-ACK or RST, an ICMP error quoting it), by the rules of exchangeRules.ts. Every header a
// journey had counts, so a reply that mirrors the request only after NAT rewrote one of them pairs.
// The other fragments of a fragmented request or reply are attached, never exchanges of their own.
import { effectiveDrop } from "./drops.ts";
import { icmpErrorText, isIcmpError, isPortUnreachable, RULES, type ExchangeRule } from "./exchangeRules.ts";
import { LruMap } from "./lru.ts";
import type { Exchange, ExchangeStatus, Journey, PacketInfo } from "./types.ts";

export interface ExchangeTableOptions {
  /** a request whose journey ended waits this long for its answer */
  replyTimeoutNs: number;
  /** the same for a TCP SYN, sent again every second for a while (tcp_syn_linear_timeouts): long enough to see that */
  tcpReplyTimeoutNs: number;
  /** a request whose journey has not ended (queued somewhere) is given up after this long */
  maxInFlightNs: number;
  /** exchanges waiting at most; past it the oldest becomes no-reply */
  maxOpen: number;
  /** ids are this kind letter ("p", "t", "u") + idPrefix + a number */
  idPrefix: string;
  /** a UDP flow opens one exchange per this much quiet */
  udpFlowIdleNs: number;
}

type Role = "request" | "reply" | "error" | "fragment" | "retry";

interface State {
  ex: Exchange;
  rule: ExchangeRule;
  keys: string[];
  fragKeys: string[];
  startTNs: number;
  requestOpen: boolean;
  answer?: Journey;
  answerStatus?: ExchangeStatus;
  /** a fragment journey that became the whole packet: its drop is the exchange's */
  reassembled: Journey[];
  /** fragment journeys attached and still open: the exchange waits for them (they end within microseconds) */
  openFragments: number;
  /** the status it ends with once its open fragments have ended */
  pending?: ExchangeStatus;
  final: boolean;
}

const KIND_LETTER = { "icmp-echo": "p", tcp: "t", udp: "u" } as const;
const fragKeyOf = (p: PacketInfo, ipId: number): string => `f|${p.family}|${p.proto}|${p.src}|${p.dst}|${ipId}`;

export class ExchangeTable {
  private readonly byKey = new Map<string, State>();
  private readonly byFrag = new Map<string, State>();
  private readonly roles = new Map<Journey, { state: State; role: Role }>();
  // Expiry order: requests still in flight by their start, settled ones by their end (or their last
  // retry's), one list per kind as their timeouts differ.
  private readonly inFlight = new LruMap<State, number>();
  private readonly settledBy = { "icmp-echo": new LruMap<State, number>(), tcp: new LruMap<State, number>(), udp: new LruMap<State, number>() };
  private readonly settledLists = [this.settledBy["icmp-echo"], this.settledBy.tcp, this.settledBy.udp];
  /** fragments that came before their first fragment, by fragment key */
  private readonly orphans = new LruMap<string, Journey[]>();
  /** journeys that began as a later fragment: whatever header they get (reassembled), never an exchange's request or answer */
  private readonly laterFragments = new WeakSet<Journey>();
  /** journeys of exchanges that ended: nothing changes them any more */
  private readonly over = new WeakSet<Journey>();
  private readonly recentFlows = new LruMap<string, number>();
  private nextId = 1;
  evicted = 0;

  constructor(private readonly opts: ExchangeTableOptions) {}

  setIdPrefix(prefix: string): void {
    this.opts.idPrefix = prefix;
  }

  get size(): number {
    return this.inFlight.size + this.settledBy["icmp-echo"].size + this.settledBy.tcp.size + this.settledBy.udp.size;
  }

  private settled(state: State): LruMap<State, number> {
    return this.settledBy[state.rule.kind];
  }

  identified(journey: Journey, out: Exchange[]): void {
    const p = journey.packet;
    if (!p) return;
    const frag = journey.fragment;
    if (frag && frag.offset > 0) {
      this.laterFragments.add(journey);
      return this.fragment(journey, fragKeyOf(p, frag.ipId));
    }
    this.header(journey, p, out);
  }

  /** A request's or answer's skb became the first fragment of its packet: the others are its. */
  fragmented(journey: Journey, p: PacketInfo, ipId: number): void {
    const known = this.roles.get(journey);
    if (known && known.role !== "fragment" && known.role !== "retry") this.registerFragments(known.state, fragKeyOf(p, ipId));
  }

  rewritten(journey: Journey, p: PacketInfo, out: Exchange[]): void {
    const known = this.roles.get(journey);
    if (known?.role === "fragment") {
      if (!p.icmp && p.sport === undefined) return;
      known.state.reassembled.push(journey); // reassembled: the whole packet goes on in this skb
      return;
    }
    if (this.laterFragments.has(journey)) return;
    this.header(journey, p, out);
  }

  /** A journey ended at tNs (its free, or the moment idleness ended it). */
  ended(journey: Journey, tNs: number, out: Exchange[]): void {
    const known = this.roles.get(journey);
    if (!known) return;
    this.over.add(journey);
    this.roles.delete(journey);
    const { state, role } = known;
    if (state.final) return;
    if (role === "fragment") {
      state.openFragments--;
      // The whole packet, reassembled into this fragment's skb, dropped: no answer comes (or the
      // answer that came did not arrive).
      if (state.reassembled.includes(journey) && effectiveDrop(journey)) state.pending = "dropped";
      if (state.pending !== undefined) this.settle(state, state.pending, out);
      return;
    }
    if (role === "retry") {
      // The wait for an answer starts again from the last retry.
      if (!state.answer && !state.requestOpen) this.settled(state).set(state, Math.max(tNs, lastTNs(journey)));
      return;
    }
    if (role === "request") {
      state.requestOpen = false;
      this.inFlight.delete(state);
      this.settled(state).set(state, Math.max(tNs, lastTNs(journey)));
      // Dropped, no answer can come, unless an ICMP error already did (reject, TTL exceeded). An error
      // the sender's own host reports about it (a neighbour that never answered ARP) is the drop's
      // echo, not an answer from the way: the exchange is dropped, and keeps the error.
      if (!effectiveDrop(journey)) return;
      // A TCP SYN or a UDP query dropped is sent again (retries): the exchange stays open to see
      // them, and is dropped if no answer comes. An echo is not.
      if (!state.answer) {
        if (state.rule.kind === "icmp-echo") this.settle(state, "dropped", out);
        else state.pending = "dropped";
      } else if (state.ex.error?.from === state.ex.src) state.answerStatus = "dropped";
      return;
    }
    if (journey === state.answer) {
      this.settle(state, role === "reply" && effectiveDrop(journey) ? "dropped" : state.answerStatus ?? "complete", out);
    }
  }

  /** Final with this status, once the fragments still on their way (the rest of the packet) have ended. */
  private settle(state: State, status: ExchangeStatus, out: Exchange[]): void {
    if (state.pending !== "dropped") state.pending = status;
    if (state.openFragments <= 0) this.finalize(state, state.pending, out);
  }

  /** Requests past their time become no-reply. */
  expire(nowNs: number, out: Exchange[]): void {
    // Runs for nearly every event: the lists are walked without making an entry or an array.
    for (const list of this.settledLists) {
      const timeout = list === this.settledBy.tcp ? this.opts.tcpReplyTimeoutNs : this.opts.replyTimeoutNs;
      // An answer that came but whose journey never ended (UDP frees what a socket read without a
      // tracepoint) still answered.
      for (let at = list.oldestValue(); at !== undefined && nowNs - at > timeout; at = list.oldestValue()) {
        const s = list.oldestKey()!;
        this.finalize(s, waited(s), out);
      }
    }
    for (let at = this.inFlight.oldestValue(); at !== undefined && nowNs - at > this.opts.maxInFlightNs; at = this.inFlight.oldestValue()) {
      this.finalize(this.inFlight.oldestKey()!, "no-reply", out);
    }
    for (let at = this.recentFlows.oldestValue(); at !== undefined && nowNs - at > this.opts.udpFlowIdleNs; at = this.recentFlows.oldestValue()) {
      this.recentFlows.delete(this.recentFlows.oldestKey()!);
    }
  }

  /** End of capture: a request still on its way is no-reply; one whose journey ended is what its wait
   * would have made it (a dropped SYN whose retries were all dropped is dropped, not no-reply). */
  flush(out: Exchange[]): void {
    for (let f = this.inFlight.oldest(); f; f = this.inFlight.oldest()) this.finalize(f[0], "no-reply", out);
    for (const list of this.settledLists) {
      for (let f = list.oldest(); f; f = list.oldest()) this.finalize(f[0], waited(f[0]), out);
    }
  }

  /** A header of a journey: an error quoting a request, an answer, or a request (new, or one more header of its own). */
  private header(journey: Journey, p: PacketInfo, out: Exchange[]): void {
    const known = this.roles.get(journey);
    if (known) {
      if (known.role === "request") this.addKeys(known.state, p, journey);
      return;
    }
    if (isIcmpError(p) && p.quoted) {
      for (const rule of RULES) {
        const key = rule.opens(p.quoted);
        const state = key !== undefined ? this.byKey.get(key) : undefined;
        if (!state || state.answer) continue;
        const type = p.icmp?.type ?? 0, code = p.icmp?.code ?? 0;
        state.ex.error = { from: p.src, type, code, text: icmpErrorText(p.family, type, code), journey };
        this.answer(state, journey, "error", isPortUnreachable(p) && rule.kind !== "icmp-echo" ? "refused" : "error");
        return;
      }
      return;
    }
    for (const rule of RULES) {
      const a = rule.answers(p);
      const state = a ? this.byKey.get(a.key) : undefined;
      if (a && state && !state.answer && state.rule === rule) {
        this.answer(state, journey, "reply", a.status);
        return;
      }
    }
    for (const rule of RULES) {
      const key = rule.opens(p);
      if (key === undefined) continue;
      const open = this.byKey.get(key);
      if (open) {
        // A second skb with the same request: a retransmitted SYN, a repeated query. An echo's is a
        // clone or a duplicate: the first journey stays the request.
        if (rule.kind !== "icmp-echo" && !open.answer) {
          (open.ex.retries ??= []).push(journey);
          this.roles.set(journey, { state: open, role: "retry" });
        }
        return;
      }
      if (rule.kind === "udp" && this.recentFlows.has(key)) return;
      this.open(rule, key, journey, p, out);
      return;
    }
    // An echo reply whose request we never saw (capture started late): an exchange with its reply only.
    const a = RULES[0]!.answers(p);
    if (a && !this.byKey.has(a.key)) {
      const state = this.newState(RULES[0]!, journey, { ...p, src: p.dst, dst: p.src });
      this.answer(state, journey, "reply", "complete");
      state.requestOpen = false;
      this.settled(state).set(state, journey.hops[0]?.tNs ?? 0);
    }
  }

  private newState(rule: ExchangeRule, journey: Journey, p: PacketInfo): State {
    const ex: Exchange = { id: `${KIND_LETTER[rule.kind]}-${this.opts.idPrefix}${this.nextId++}`, kind: rule.kind,
      family: p.family, src: p.src, dst: p.dst, status: "no-reply" };
    if (rule.kind === "icmp-echo") {
      ex.icmpId = p.icmp?.id ?? 0;
      ex.seq = p.icmp?.seq ?? 0;
    } else {
      if (p.sport !== undefined) ex.sport = p.sport;
      if (p.dport !== undefined) ex.dport = p.dport;
    }
    if (journey.at !== undefined) ex.at = journey.at;
    return { ex, rule, keys: [], fragKeys: [], startTNs: journey.hops[0]?.tNs ?? 0, requestOpen: true, reassembled: [],
      openFragments: 0, final: false };
  }

  private open(rule: ExchangeRule, key: string, journey: Journey, p: PacketInfo, out: Exchange[]): void {
    if (this.size >= this.opts.maxOpen) this.evictOldest(out);
    const state = this.newState(rule, journey, p);
    state.ex.request = journey;
    this.roles.set(journey, { state, role: "request" });
    this.register(state, key);
    // An ICMP error quotes only the UDP header, not the DNS id: the query answers to its key without it too.
    if (p.dnsId !== undefined) {
      const bare = rule.opens({ ...p, dnsId: undefined });
      if (bare !== undefined && !this.byKey.has(bare)) this.register(state, bare);
    }
    this.addFragment(state, journey, p);
    this.inFlight.set(state, state.startTNs);
    if (rule.kind === "udp") this.recentFlows.set(key, state.startTNs);
  }

  private addKeys(state: State, p: PacketInfo, journey: Journey): void {
    const key = state.rule.opens(p);
    if (key !== undefined && !this.byKey.has(key)) this.register(state, key);
    this.addFragment(state, journey, p);
  }

  private register(state: State, key: string): void {
    state.keys.push(key);
    this.byKey.set(key, state);
  }

  private answer(state: State, journey: Journey, role: "reply" | "error", status: ExchangeStatus): void {
    state.answer = journey;
    state.answerStatus = status;
    state.pending = undefined; // a retry was answered: the attempts dropped before do not make it dropped
    if (role === "reply") state.ex.reply = journey;
    this.roles.set(journey, { state, role });
    // A UDP socket frees what it read without a tracepoint, so neither journey may ever end: once
    // answered, the exchange waits a reply timeout from the answer, not the in-flight limit.
    if (state.requestOpen && this.inFlight.has(state)) {
      this.inFlight.delete(state);
      this.settled(state).set(state, journey.hops[0]?.tNs ?? state.startTNs);
    }
    if (journey.packet) this.addFragment(state, journey, journey.packet);
  }

  /** A request or reply that began as a first fragment: later fragments with its IP id belong here. */
  private addFragment(state: State, journey: Journey, p: PacketInfo): void {
    const frag = journey.fragment;
    if (frag && frag.offset === 0) this.registerFragments(state, fragKeyOf(p, frag.ipId));
  }

  private registerFragments(state: State, key: string): void {
    if (this.byFrag.has(key)) return;
    state.fragKeys.push(key);
    this.byFrag.set(key, state);
    for (const j of this.orphans.get(key) ?? []) this.attachFragment(state, j);
    this.orphans.delete(key);
  }

  private fragment(journey: Journey, key: string): void {
    const state = this.byFrag.get(key);
    if (state) return this.attachFragment(state, journey);
    const held = this.orphans.get(key) ?? [];
    held.push(journey);
    this.orphans.set(key, held);
    if (this.orphans.size > this.opts.maxOpen) this.orphans.delete(this.orphans.oldest()![0]);
  }

  private attachFragment(state: State, journey: Journey): void {
    (state.ex.fragments ??= []).push(journey);
    state.openFragments++;
    this.roles.set(journey, { state, role: "fragment" });
  }

  private evictOldest(out: Exchange[]): void {
    const oldest = this.inFlight.oldest() ?? this.settledBy["icmp-echo"].oldest() ?? this.settledBy.tcp.oldest() ?? this.settledBy.udp.oldest();
    if (!oldest) return;
    this.evicted++;
    this.finalize(oldest[0], "no-reply", out);
  }

  private keep(j: Journey): Journey {
    return this.over.has(j) ? j : { ...j, hops: j.hops.slice() };
  }

  private finalize(state: State, status: ExchangeStatus, out: Exchange[]): void {
    state.final = true;
    this.inFlight.delete(state);
    this.settled(state).delete(state);
    for (const k of state.keys) if (this.byKey.get(k) === state) this.byKey.delete(k);
    for (const k of state.fragKeys) if (this.byFrag.get(k) === state) this.byFrag.delete(k);
    // Written out field by field, in the order newState() gave them: this runs for every exchange,
    // and a rest-destructuring copy was a tenth of the pipeline's time under a flood.
    const s = state.ex;
    const ex: Exchange = { id: s.id, kind: s.kind, family: s.family, src: s.src, dst: s.dst, status };
    if (s.icmpId !== undefined) ex.icmpId = s.icmpId;
    if (s.seq !== undefined) ex.seq = s.seq;
    if (s.sport !== undefined) ex.sport = s.sport;
    if (s.dport !== undefined) ex.dport = s.dport;
    if (s.at !== undefined) ex.at = s.at;
    const { request, reply, error, fragments, retries } = s;
    // Journeys still open may grow (fragments, the request's last hops): the exchange keeps what they
    // were. One that ended changes no more and is handed out as it is.
    if (request) ex.request = this.keep(request);
    if (reply) ex.reply = this.keep(reply);
    if (error) ex.error = error.journey ? { ...error, journey: this.keep(error.journey) } : { ...error };
    if (fragments) ex.fragments = fragments.map((j) => this.keep(j));
    if (retries) ex.retries = retries.map((j) => this.keep(j));
    const t0 = request?.hops[0]?.tNs, t1 = reply?.hops[0]?.tNs;
    if (t0 !== undefined && t1 !== undefined) ex.rttNs = t1 - t0;
    out.push(ex);
  }
}

/** The status of an exchange whose request ended, once its wait for an answer is over. */
function waited(s: State): ExchangeStatus {
  return s.answer ? s.pending ?? s.answerStatus ?? "complete" : s.pending ?? "no-reply";
}

function lastTNs(j: Journey): number {
  return j.hops[j.hops.length - 1]?.tNs ?? 0;
}
