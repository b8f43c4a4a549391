// source → netns names → Correlator → store → listeners. One promise chain serialises event batches
// and clock ticks, so the Correlator always sees events and time in order.
import type { CaptureStats } from "../shared/protocol.ts";
import { Correlator, idPrefixFor, type CorrelatorOptions, type CorrelatorOutput } from "../shared/correlate.ts";
import type { Exchange, Journey, Ping, RawEvent } from "../shared/types.ts";
import type { CaptureSource, RawBatch } from "./capture/source.ts";
import type { NetnsNamer } from "./names.ts";
import { ExchangeStore, PingStore } from "./store.ts";
import { RECORDS_LOST } from "../shared/gaps.ts";
import { isPing } from "../shared/pings.ts";
import type { Summarised } from "../shared/sample.ts";
import { CaptureLog, type CaptureFeedSource } from "./captureLog.ts";
import { answerQuery, streamedPing, type StoreAnswer, type StoreQuery, type StreamListener } from "./storeQuery.ts";

/** What the server (HTTP, WebSocket) needs of a pipeline, here or in a worker (server/offload.ts). */
export interface ServedPipeline {
  readonly source: { readonly name: string; readonly live: boolean; readonly warnings?: readonly string[] };
  stats(): CaptureStats;
  sampleRate(): CaptureStats;
  correlatedEvents(): number;
  /** pings the store holds */
  held(): number;
  /** Answered where the stores are (server/storeQuery.ts); never rejects. */
  query(q: StoreQuery): Promise<StoreAnswer>;
  /** finished pings for the stream, in completion order */
  onStream(listener: StreamListener): () => void;
  /** The session's capture log (GET /api/capture), following from now. */
  followCapture(capacity?: number): { log: CaptureFeedSource; detach: () => void };
  start(): Promise<void>;
  stop(): Promise<void>;
}

export interface PipelineOptions {
  /** names netns inodes; absent for captures made elsewhere, which carry their own names */
  namer?: NetnsNamer;
  capacity?: number;
  /** how often time advances in the Correlator when no events come */
  tickMs?: number;
  correlator?: CorrelatorOptions;
  /** where a failure inside the chain is reported; it does not stop the pipeline */
  onError?: (message: string) => void;
  /**
   * Events handed over by the source and not yet correlated, at most. A flood faster than
   * correlation would otherwise grow memory without bound; past this, batches are dropped and
   * counted as lost.
   */
  maxQueuedEvents?: number;
}

/** Pings in completion order; `summarised`: the ones left out before them (an offloaded pipeline under a flood samples). */
export type PingListener = (pings: Ping[], summarised?: Summarised) => void;
export type ExchangeListener = (exchanges: Exchange[]) => void;
export type JourneyListener = (journeys: Journey[]) => void;
/** Events after naming, before correlation: what `record` writes; `raw`, the records they were made from (eBPF). */
export type EventListener = (events: RawEvent[], raw?: RawBatch) => void;

export class Pipeline implements ServedPipeline {
  readonly store: PingStore;
  /** the exchanges that are not pings (TCP, UDP) */
  readonly exchanges: ExchangeStore;
  private readonly correlator: Correlator;
  private readonly pingListeners = new Set<PingListener>();
  private readonly exchangeListeners = new Set<ExchangeListener>();
  private readonly journeyListeners = new Set<JourneyListener>();
  private readonly eventListeners = new Set<EventListener>();
  private chain: Promise<void> = Promise.resolve();
  private timer: NodeJS.Timeout | null = null;
  /** hrtime at start(), the zero of the fallback clock */
  private startHr = 0n;
  private lastEventTNs = 0;
  private originUs: number | undefined;
  private stopped = false;
  /** events handed over by the source and not yet correlated */
  private queuedEvents = 0;
  /** events dropped because correlation fell behind */
  private overflow = 0;
  /** events handed to the Correlator */
  private correlated = 0;
  /** records the source read and did not decode, because the queue could not take them (IntakeControl) */
  private shedRecords = 0;
  private rate = { atMs: performance.now(), events: 0, perSec: 0 };

  constructor(readonly source: CaptureSource, private readonly opts: PipelineOptions = {}) {
    this.store = new PingStore(opts.capacity ?? 10_000);
    this.exchanges = new ExchangeStore(opts.capacity ?? 10_000);
    this.correlator = new Correlator(opts.correlator);
  }

  followCapture(capacity?: number): { log: CaptureFeedSource; detach: () => void } {
    return CaptureLog.follow(this, capacity);
  }

  held(): number {
    return this.store.size;
  }

  query(q: StoreQuery): Promise<StoreAnswer> {
    return Promise.resolve(answerQuery(this, q));
  }

  onStream(listener: StreamListener): () => void {
    return this.onPings((pings, summarised) => listener(pings.map(streamedPing), summarised));
  }

  onPings(listener: PingListener): () => void {
    this.pingListeners.add(listener);
    return () => this.pingListeners.delete(listener);
  }

  /** Every exchange that became final (pings included: they are the icmp-echo ones). */
  onExchanges(listener: ExchangeListener): () => void {
    this.exchangeListeners.add(listener);
    return () => this.exchangeListeners.delete(listener);
  }

  onEvents(listener: EventListener): () => void {
    this.eventListeners.add(listener);
    return () => this.eventListeners.delete(listener);
  }

  onJourneys(listener: JourneyListener): () => void {
    this.journeyListeners.add(listener);
    return () => this.journeyListeners.delete(listener);
  }

  /** Starts the source (rejects if it cannot start) and the clock. */
  async start(): Promise<void> {
    await this.opts.namer?.refresh();
    const maxQueued = this.opts.maxQueuedEvents ?? 65_536;
    const fits = (n: number): boolean => this.queuedEvents + n <= maxQueued;
    await this.source.start((events, release, raw) => {
      if (!fits(events.length)) {
        this.overflow += events.length;
        const first = events[0], last = events[events.length - 1];
        if (first && last) this.lost(first.tNs, last.tNs);
        return release?.();
      }
      this.queuedEvents += events.length;
      this.enqueue(async () => {
        this.queuedEvents -= events.length;
        try {
          await this.ingest(events, raw);
        } finally {
          release?.();
        }
      });
    }, { fits, shed: (records, span) => {
      this.shedRecords += records;
      if (span) this.lost(span.fromNs, span.toNs);
    } });
    // Taken after the source is ready: a clock that lags the source only delays timeouts, one that
    // leads would expire requests whose replies are still on their way.
    this.startHr = process.hrtime.bigint();
    this.syncOrigin();
    const guess = this.source.guessReuse?.();
    if (guess !== undefined) this.correlator.setGuessReuse(guess);
    if (this.opts.correlator?.idPrefix === undefined) this.correlator.setIdPrefix(idPrefixFor(this.originUs ?? Date.now() * 1000));
    this.timer = setInterval(() => this.enqueue(async () => this.tick()), this.opts.tickMs ?? 250);
  }

  /**
   * Stops the source, waits for its last batch, then makes everything still open final
   * (flush) so nothing seen is lost. Safe to call twice.
   */
  async stop(): Promise<void> {
    if (this.stopped) return this.chain;
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    // Its runtime listeners (a `podman events` child, Docker's event stream) end with the capture.
    this.opts.namer?.close();
    await this.source.stop();
    this.enqueue(async () => this.emit(this.correlator.flush()));
    await this.chain;
  }

  /** The source's clock in ns since capture start; never behind the newest event. */
  nowNs(): number {
    const own = this.source.nowNs?.() ?? Number(process.hrtime.bigint() - this.startHr);
    return Math.max(own, this.lastEventTNs);
  }

  /**
   * events: every record the source produced (read, undecodable, or lost in the kernel's full ring);
   * lost: those that never reached the Correlator. Once the queue is empty, events − lost = correlated.
   */
  stats(): CaptureStats {
    const c = this.source.counters();
    const discarded = c.discarded ?? 0;
    const lostBy = { ring: c.lost, queue: this.overflow + this.shedRecords + discarded, malformed: c.malformed ?? 0 };
    return {
      source: this.source.name, live: this.source.live, events: c.events + this.shedRecords + discarded + lostBy.ring + lostBy.malformed,
      lost: lostBy.ring + lostBy.queue + lostBy.malformed, lostBy, collisions: c.collisions ?? 0,
      ...(c.sampled === undefined ? {} : { sampled: c.sampled }), eventsPerSec: this.rate.perSec,
    };
  }

  /** Events handed to the Correlator so far. */
  correlatedEvents(): number {
    return this.correlated;
  }

  /** Recomputes events/s over the time since the last call; the server calls it once a second. */
  sampleRate(): CaptureStats {
    const nowMs = performance.now();
    const { events } = this.stats();
    const dtMs = nowMs - this.rate.atMs;
    if (dtMs > 0) this.rate = { atMs: nowMs, events, perSec: Math.round(((events - this.rate.events) * 1000) / dtMs) };
    return this.stats();
  }

  /**
   * Events dropped here (the queue was full), made from fromNs to toNs: the Correlator hears of it in
   * turn with the batches, so what is open across it says its records were lost.
   */
  private lost(fromNs: number, toNs: number): void {
    this.enqueue(async () => this.correlator.noteLoss(fromNs, toNs));
  }

  /**
   * Time passes only when no batch waits: a backlog's own events advance time as they are pushed,
   * and a clock ahead of them would expire requests whose replies are queued behind.
   */
  private tick(): void {
    this.syncOrigin();
    if (this.queuedEvents > 0) return;
    this.emit(this.correlator.advance(this.nowNs()));
  }

  /** The source's clock as the wall clock sees it now (it may be re-mapped when they drift apart). */
  private syncOrigin(): void {
    const origin = this.source.originUs?.();
    if (origin === undefined || origin === this.originUs) return;
    this.originUs = origin;
    this.correlator.setOrigin(origin);
  }

  /**
   * Each step runs after a turn of the event loop: a chain of resolved promises runs as microtasks,
   * and a backlog of batches would otherwise starve timers and sockets (the stream, HTTP) until done.
   */
  private enqueue(step: () => Promise<void>): void {
    this.chain = this.chain.then(() => new Promise<void>((r) => setImmediate(r))).then(step).catch((e: unknown) => {
      this.opts.onError?.(`pipeline: ${e instanceof Error ? e.message : String(e)}`);
    });
  }

  private async ingest(events: RawEvent[], raw: RawBatch | undefined): Promise<void> {
    const namer = this.opts.namer;
    if (namer) {
      const inodes = new Set<number>();
      for (const ev of events) if (ev.netns !== undefined && ev.netnsName === undefined) inodes.add(ev.netns);
      if (inodes.size > 0) await namer.resolve(inodes);
      for (const ev of events) {
        if (ev.netns === undefined || ev.netnsName !== undefined) continue;
        const name = namer.lookup(ev.netns);
        if (name !== undefined) ev.netnsName = name;
      }
    }
    for (const l of this.eventListeners) l(events, raw);
    const all: CorrelatorOutput = { journeys: [], exchanges: [], pings: [] };
    let reports = 0;
    for (const ev of events) {
      if (ev.tNs > this.lastEventTNs) this.lastEventTNs = ev.tNs;
      if (ev.event === RECORDS_LOST) reports++;
    }
    // Reports of lost records are not records (the source counts them neither).
    this.correlated += events.length - reports;
    this.correlator.pushAll(events, all);
    this.emit(all);
  }

  private emit(out: CorrelatorOutput): void {
    if (out.journeys.length > 0) for (const l of this.journeyListeners) l(out.journeys);
    if (out.exchanges.length > 0) {
      this.exchanges.add(out.exchanges.filter((x) => !isPing(x)));
      for (const l of this.exchangeListeners) l(out.exchanges);
    }
    if (out.pings.length === 0) return;
    this.store.add(out.pings);
    for (const l of this.pingListeners) l(out.pings);
  }
}
