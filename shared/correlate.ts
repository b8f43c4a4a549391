// Correlation of raw events into journeys (one skb's life) and exchanges (a request and what
// answered it; pings are the icmp-echo ones). Pure and deterministic: time is only what the events
// and advance() say. The tables return what they decided; this class passes it on, one way.
import { ExchangeTable } from "./exchanges.ts";
import { emptyJourneyOutput, JourneyTable, type JourneyOutput, type ReuseGuess } from "./journeys.ts";
import { Gaps, RECORDS_LOST } from "./gaps.ts";
import { isPing } from "./pings.ts";
import type { Exchange, Journey, Ping, RawEvent } from "./types.ts";
import { isoMicros, type UnixMicros } from "./wallclock.ts";

export { effectiveDrop, echoSideOf } from "./drops.ts";

export interface CorrelatorOptions {
  /** A request whose journey ended, with no answer this long after, becomes no-reply. Default 2 s. */
  replyTimeoutNs?: number;
  /** A request whose journey never ended becomes no-reply this long after it began. Default 10 s. */
  maxInFlightNs?: number;
  /** A journey with no event for this long ends, where the source has lifetime events. Default 30 s. */
  journeyIdleNs?: number;
  /** The same where it guesses (see guessReuse). Default 1 s. */
  guessIdleNs?: number;
  /** Open journeys kept at most; past it the oldest ends early. Default 100,000. */
  maxOpenJourneys?: number;
  /** Exchanges waiting for an answer kept at most; past it the oldest becomes no-reply. Default 100,000. */
  maxOpenPings?: number;
  /** Whether the source has lifetime events, or journeys are guessed apart (ReuseGuess). Default "never". */
  guessReuse?: ReuseGuess;
  /** ids are unique across captures with distinct prefixes (a live run's start); default "" */
  idPrefix?: string;
  /** the capture's tNs 0 in µs since the Unix epoch: journeys and exchanges get `at` */
  originUs?: UnixMicros;
}

export interface CorrelatorOutput {
  /** journeys that ended, in the order they ended */
  journeys: Journey[];
  /** exchanges that became final, each exactly once, in the order they became final */
  exchanges: Exchange[];
  /** the icmp-echo ones among them (the same objects) */
  pings: Ping[];
}

export interface CorrelatorStats {
  openJourneys: number;
  openPings: number;
  /** journeys ended early because maxOpenJourneys was reached */
  evictedJourneys: number;
  /** exchanges finalized early because maxOpenPings was reached */
  evictedPings: number;
}

export const DEFAULT_REPLY_TIMEOUT_NS = 2e9;
export const DEFAULT_MAX_IN_FLIGHT_NS = 10e9;
export const DEFAULT_MAX_OPEN = 100_000;
export const DEFAULT_JOURNEY_IDLE_NS = 30e9;
export const DEFAULT_GUESS_IDLE_NS = 1e9;

export class Correlator {
  private readonly journeys: JourneyTable;
  private readonly exchanges: ExchangeTable;
  private readonly step: JourneyOutput = emptyJourneyOutput();
  private originUs: UnixMicros | undefined;
  // Events may lag one another by a few ns (see journeys.ts); time never runs backwards here.
  private nowNs = -Infinity;
  private readonly gaps = new Gaps();

  constructor(opts: CorrelatorOptions = {}) {
    this.originUs = opts.originUs;
    this.journeys = new JourneyTable({
      idleNs: opts.journeyIdleNs ?? DEFAULT_JOURNEY_IDLE_NS,
      guessIdleNs: opts.guessIdleNs ?? DEFAULT_GUESS_IDLE_NS,
      maxOpen: Math.max(1, opts.maxOpenJourneys ?? DEFAULT_MAX_OPEN),
      guessReuse: opts.guessReuse ?? "never",
      idPrefix: `j-${opts.idPrefix ?? ""}`,
      wallClock: (tNs) => (this.originUs === undefined ? undefined : isoMicros(this.originUs + tNs / 1000)),
    });
    this.exchanges = new ExchangeTable({
      replyTimeoutNs: opts.replyTimeoutNs ?? DEFAULT_REPLY_TIMEOUT_NS,
      tcpReplyTimeoutNs: Math.max(opts.replyTimeoutNs ?? DEFAULT_REPLY_TIMEOUT_NS, 4e9),
      maxInFlightNs: opts.maxInFlightNs ?? DEFAULT_MAX_IN_FLIGHT_NS,
      maxOpen: Math.max(1, opts.maxOpenPings ?? DEFAULT_MAX_OPEN),
      idPrefix: opts.idPrefix ?? "",
      udpFlowIdleNs: 30e9,
    });
  }

  /** Records the source (or the pipeline) lost, from fromNs to toNs: what is then open says so when it ends. */
  noteLoss(fromNs: number, toNs = fromNs): void {
    this.gaps.note(fromNs, toNs);
  }

  /** How this capture's journeys are told apart: set by its source (a text capture may lack lifetime events). */
  setGuessReuse(mode: ReuseGuess): void {
    this.journeys.setGuessReuse(mode);
  }

  /** Ids from now on are unique to this capture: j-PREFIX1, p-PREFIX1, ... */
  setIdPrefix(prefix: string): void {
    this.journeys.setIdPrefix(`j-${prefix}`);
    this.exchanges.setIdPrefix(prefix);
  }

  /** The capture's clock mapped (again) to the wall clock: tNs 0 is this many µs since the epoch. */
  setOrigin(originUs: UnixMicros): void {
    this.originUs = originUs;
  }

  /** One event, in time order. Time passing up to its tNs is applied first. */
  push(ev: RawEvent): CorrelatorOutput {
    const out = emptyOutput();
    this.pushInto(ev, out);
    this.finish(out, 0);
    return out;
  }

  /**
   * A batch of events, in time order, with what they finished appended to `out` (pings included):
   * one output per batch rather than per event, which push() would make.
   */
  pushAll(events: readonly RawEvent[], out: CorrelatorOutput): void {
    const from = out.exchanges.length;
    // Indexed: for-of here made an iterator result per event (40 bytes each, bench/pipeline.ts).
    for (let i = 0; i < events.length; i++) this.pushInto(events[i]!, out);
    this.gaps.mark(out.exchanges, from, this.nowNs);
    for (let i = from; i < out.exchanges.length; i++) {
      const ex = out.exchanges[i]!;
      if (isPing(ex)) out.pings.push(ex);
    }
  }

  private pushInto(ev: RawEvent, out: CorrelatorOutput): void {
    // Records the source lost: not a packet's. Noted before time passes, so an exchange that
    // passing time ends was open across the loss too.
    if (ev.event === RECORDS_LOST) {
      this.gaps.note(ev.lostFromNs ?? ev.tNs, ev.tNs);
      this.sweep(ev.tNs, out);
      return;
    }
    this.sweep(ev.tNs, out);
    this.journeys.apply(ev, this.step);
    this.pass(out, ev.tNs);
  }

  /** Time passes with no events: idle journeys end, requests past their timeout become no-reply. */
  advance(nowNs: number): CorrelatorOutput {
    const out = emptyOutput();
    this.sweep(nowNs, out);
    this.gaps.prune(this.nowNs);
    this.finish(out, 0);
    return out;
  }

  /** End of capture: every open journey ends, every waiting request becomes no-reply. */
  flush(): CorrelatorOutput {
    const out = emptyOutput();
    this.journeys.flush(this.step);
    this.pass(out, this.nowNs);
    this.exchanges.flush(out.exchanges);
    this.finish(out, 0);
    return out;
  }

  stats(): CorrelatorStats {
    return { openJourneys: this.journeys.size, openPings: this.exchanges.size,
      evictedJourneys: this.journeys.evicted, evictedPings: this.exchanges.evicted };
  }

  private sweep(tNs: number, out: CorrelatorOutput): void {
    if (tNs <= this.nowNs) return;
    this.nowNs = tNs;
    this.journeys.expire(tNs, this.step);
    this.pass(out, tNs);
    this.exchanges.expire(tNs, out.exchanges);
  }

  /** What the journey table decided at tNs goes to the exchange table, in the order it happened. */
  private pass(out: CorrelatorOutput, tNs: number): void {
    const s = this.step;
    for (const j of s.identified) this.exchanges.identified(j, out.exchanges);
    for (const r of s.rewritten) this.exchanges.rewritten(r.journey, r.packet, out.exchanges);
    for (const f of s.fragmented) this.exchanges.fragmented(f.journey, f.packet, f.fragment.ipId);
    for (const j of s.ended) {
      out.journeys.push(j);
      this.exchanges.ended(j, tNs, out.exchanges);
    }
    // Emptied by pop(), which keeps the room the arrays had: setting length to 0 let it go, and the
    // next push made it again (about 150 bytes each time, for one journey). Mostly empty already:
    // this runs per event.
    while (s.identified.length > 0) s.identified.pop();
    while (s.rewritten.length > 0) s.rewritten.pop();
    while (s.fragmented.length > 0) s.fragmented.pop();
    while (s.ended.length > 0) s.ended.pop();
  }

  /** Marks what was open across a gap; pings are the icmp-echo exchanges, collected once per output. */
  private finish(out: CorrelatorOutput, from: number): void {
    this.gaps.mark(out.exchanges, from, this.nowNs);
    out.pings.length = 0;
    for (const ex of out.exchanges) if (isPing(ex)) out.pings.push(ex);
  }
}

/**
 * The id prefix of a capture that began at originUs: its start in ms since the epoch, base 36. A
 * permalink to a ping of another run or another file never opens this one's.
 */
export function idPrefixFor(originUs: UnixMicros): string {
  return `${Math.floor(originUs / 1000).toString(36)}-`;
}

/** Runs a whole capture through one Correlator: what `pktpath import` prints. */
export function correlateAll(events: Iterable<RawEvent>, opts?: CorrelatorOptions): CorrelatorOutput {
  const c = new Correlator(opts);
  const all = emptyOutput();
  // No spread: a flush can hand back more items than a call's argument list can hold.
  const take = (o: CorrelatorOutput): void => {
    for (const j of o.journeys) all.journeys.push(j);
    for (const x of o.exchanges) all.exchanges.push(x);
  };
  for (const ev of events) take(c.push(ev));
  take(c.flush());
  for (const ex of all.exchanges) if (isPing(ex)) all.pings.push(ex);
  return all;
}

function emptyOutput(): CorrelatorOutput {
  return { journeys: [], exchanges: [], pings: [] };
}
