// Correlation of raw tracepoint events into journeys (one skb's life) and pings (an ICMP echo request
// and its reply). Pure and deterministic: time is only what the events and advance() say.
import { JourneyTable, type JourneySink } from "./journeys.ts";
import { PingTable } from "./pings.ts";
import type { Journey, Ping, RawEvent } from "./types.ts";

export { effectiveDrop, echoSideOf } from "./pings.ts";

export interface CorrelatorOptions {
  /** A request with no reply this long after its first hop becomes no-reply. Default 2 s. */
  replyTimeoutNs?: number;
  /** A journey with no event for this long ends (sources without lifetime events). Default 1 s. */
  journeyIdleNs?: number;
  /** Open journeys kept at most; past it the oldest ends early. Default 100,000. */
  maxOpenJourneys?: number;
  /** Requests waiting for a reply kept at most; past it the oldest becomes no-reply. Default 100,000. */
  maxOpenPings?: number;
}

export interface CorrelatorOutput {
  /** journeys that ended, in the order they ended */
  journeys: Journey[];
  /** pings that became final, each exactly once, in the order they became final */
  pings: Ping[];
}

export interface CorrelatorStats {
  openJourneys: number;
  openPings: number;
  /** journeys ended early because maxOpenJourneys was reached */
  evictedJourneys: number;
  /** pings finalized early because maxOpenPings was reached */
  evictedPings: number;
}

export const DEFAULT_REPLY_TIMEOUT_NS = 2e9;
export const DEFAULT_JOURNEY_IDLE_NS = 1e9;
export const DEFAULT_MAX_OPEN = 100_000;

export class Correlator {
  private readonly journeys: JourneyTable;
  private readonly pings: PingTable;
  // Events may lag one another by a few ns (see journeys.ts); time never runs backwards here.
  private nowNs = -Infinity;

  constructor(opts: CorrelatorOptions = {}) {
    this.journeys = new JourneyTable(opts.journeyIdleNs ?? DEFAULT_JOURNEY_IDLE_NS,
      Math.max(1, opts.maxOpenJourneys ?? DEFAULT_MAX_OPEN));
    this.pings = new PingTable(opts.replyTimeoutNs ?? DEFAULT_REPLY_TIMEOUT_NS,
      Math.max(1, opts.maxOpenPings ?? DEFAULT_MAX_OPEN), (j) => this.journeys.has(j));
  }

  /** One event, in time order. Time passing up to its tNs is applied first. */
  push(ev: RawEvent): CorrelatorOutput {
    const out = emptyOutput();
    this.sweep(ev.tNs, out);
    this.journeys.apply(ev, this.sinkFor(out));
    return out;
  }

  /** Time passes with no events: idle journeys end, requests past their timeout become no-reply. */
  advance(nowNs: number): CorrelatorOutput {
    const out = emptyOutput();
    this.sweep(nowNs, out);
    return out;
  }

  /** End of capture: every open journey ends, every waiting request becomes no-reply. */
  flush(): CorrelatorOutput {
    const out = emptyOutput();
    this.journeys.flush(this.sinkFor(out));
    this.pings.flush(out.pings);
    return out;
  }

  stats(): CorrelatorStats {
    return { openJourneys: this.journeys.size, openPings: this.pings.size,
      evictedJourneys: this.journeys.evicted, evictedPings: this.pings.evicted };
  }

  private sweep(tNs: number, out: CorrelatorOutput): void {
    if (tNs <= this.nowNs) return;
    this.nowNs = tNs;
    this.journeys.expire(tNs, this.sinkFor(out));
    this.pings.expire(tNs, out.pings);
  }

  // One sink for the Correlator's life, writing to the output of the call in progress: no allocation
  // per event on the hot path.
  private out: CorrelatorOutput = emptyOutput();
  private readonly sink: JourneySink = {
    ended: (j) => {
      this.out.journeys.push(j);
      this.pings.ended(j, this.out.pings);
    },
    identified: (j) => this.pings.identified(j, this.out.pings),
  };

  private sinkFor(out: CorrelatorOutput): JourneySink {
    this.out = out;
    return this.sink;
  }
}

/** Runs a whole capture through one Correlator: what `pktpath import` prints. */
export function correlateAll(events: Iterable<RawEvent>, opts?: CorrelatorOptions): CorrelatorOutput {
  const c = new Correlator(opts);
  const all = emptyOutput();
  // No spread: a flush can hand back more items than a call's argument list can hold.
  const take = (o: CorrelatorOutput): void => {
    for (const j of o.journeys) all.journeys.push(j);
    for (const p of o.pings) all.pings.push(p);
  };
  for (const ev of events) take(c.push(ev));
  take(c.flush());
  return all;
}

function emptyOutput(): CorrelatorOutput {
  return { journeys: [], pings: [] };
}
