// `serve`'s live pipeline in a worker (server/pipelineWorker.ts): decoding, correlation and the
// stores, which a flood scales, never run on the thread that answers HTTP and WebSocket. This side
// asks the worker what the routes need (answered as JSON text: server/storeQuery.ts), is sent the
// stream's finished pings as text, and asks for the rest (the capture log, filter changes).
import { Worker } from "node:worker_threads";
import type { FilterProgram } from "../shared/filter/index.ts";
import type { CaptureStats } from "../shared/protocol.ts";
import type { CaptureFilter } from "./capture/source.ts";
import type { CaptureFeed, CaptureFeedSource } from "./captureLog.ts";
import type { ServedPipeline } from "./pipeline.ts";
import type { LiveSpec, PipelineCommand, PipelineWorkerData, PipelineWorkerMessage, RemoteStats } from "./pipelineWorker.ts";
import { BadInputError } from "./sources.ts";
import { STORES_GONE, type StoreAnswer, type StoreQuery, type StreamListener } from "./storeQuery.ts";
import { siblingModule, workerEntry } from "./workerEntry.ts";

const WORKER = siblingModule("pipelineWorker", import.meta.url);

export interface OffloadOptions {
  capacity?: number;
  captureLogEvents?: number;
  maxQueuedEvents?: number;
  tickMs?: number;
  /** how often the worker sends finished pings (default 50 ms: the contract's second has room) */
  flushMs?: number;
  /** complete pings sent for the stream per flush, at most (default 100): the newest */
  streamPerFlush?: number;
  onError?: (message: string) => void;
  /** each live source `auto` tried and could not start, said before start() settles */
  onSkip?: (name: string, why: string) => void;
}

type Reply = Extract<PipelineWorkerMessage, { id: number }>;

export class OffloadedPipeline implements ServedPipeline {
  readonly source: { name: string; live: boolean; warnings: string[]; setFilter: (program: FilterProgram) => Promise<void> };
  private readonly capacity: number;
  private readonly outstanding = new SharedArrayBuffer(4);
  private readonly streamListeners = new Set<StreamListener>();
  /** each question asked and not answered: how it is answered, and the answer if the worker is gone */
  private readonly pending = new Map<number, { answer: (r: Reply) => void; gone: Reply }>();
  private nextId = 1;
  private worker: Worker | undefined;
  private remote: RemoteStats;
  private exited: Promise<void> = Promise.resolve();
  private stopped = false;
  /** events/s between the two latest counts the worker sent, by the worker's clock (atMs: the later's) */
  private rate = { atMs: 0, events: 0, perSec: 0 };

  constructor(private readonly spec: LiveSpec, private readonly filter: CaptureFilter, private readonly opts: OffloadOptions = {}) {
    this.capacity = opts.capacity ?? 10_000;
    this.remote = { stats: { source: spec, live: false, events: 0, lost: 0, eventsPerSec: 0 }, correlated: 0, held: 0, atMs: 0 };
    this.source = {
      name: spec, live: false, warnings: [],
      setFilter: async (program) => {
        const r = await this.ask({ type: "filter", id: this.nextId++, program });
        if (r.type === "filter" && r.error !== undefined) throw new Error(r.error);
      },
    };
  }

  /** Starts the worker and its source; rejects as the source would have (BadInputError included). */
  async start(): Promise<void> {
    const data: PipelineWorkerData = {
      spec: this.spec, filter: this.filter, capacity: this.capacity, flushMs: this.opts.flushMs ?? 50, outstanding: this.outstanding,
      streamPerFlush: this.opts.streamPerFlush ?? 100,
      ...(this.opts.captureLogEvents === undefined ? {} : { captureLogEvents: this.opts.captureLogEvents }),
      ...(this.opts.maxQueuedEvents === undefined ? {} : { maxQueuedEvents: this.opts.maxQueuedEvents }),
      ...(this.opts.tickMs === undefined ? {} : { tickMs: this.opts.tickMs }),
    };
    const entry = workerEntry(WORKER);
    const w = new Worker(entry, { eval: true, workerData: data });
    this.worker = w;
    this.exited = new Promise<void>((resolve) => w.once("exit", () => {
      // Whatever was asked of a worker that is gone ends here (a download ends short).
      for (const { answer, gone } of this.pending.values()) answer(gone);
      this.pending.clear();
      resolve();
    }));
    await new Promise<void>((resolve, reject) => {
      w.on("message", (msg: PipelineWorkerMessage) => {
        if (msg.type === "ready" || msg.type === "failed") for (const [name, why] of msg.skipped) this.opts.onSkip?.(name, why);
        if (msg.type === "ready") {
          this.source.name = msg.name;
          this.source.warnings.push(...msg.warnings);
          this.remote = msg.remote;
          this.source.live = msg.remote.stats.live;
          return resolve();
        }
        if (msg.type === "failed") return reject(msg.badInput ? new BadInputError(msg.message) : new Error(msg.message));
        this.receive(msg);
      });
      w.on("error", (e) => {
        this.opts.onError?.(`pipeline worker: ${e.message}`);
        reject(e);
      });
      w.once("exit", () => {
        this.source.live = false;
        reject(new Error("the pipeline worker exited before it was ready"));
      });
    });
  }

  async stop(): Promise<void> {
    if (this.stopped || !this.worker) return;
    this.stopped = true;
    const w = this.worker;
    if (w.threadId >= 0) {
      const stopped = new Promise<void>((resolve) => {
        w.on("message", (msg: PipelineWorkerMessage) => msg.type === "stopped" && resolve());
        w.once("exit", () => resolve());
      });
      this.post({ type: "stop" });
      await stopped;
    }
    await this.exited;
  }

  onStream(listener: StreamListener): () => void {
    this.streamListeners.add(listener);
    return () => this.streamListeners.delete(listener);
  }

  held(): number {
    return this.remote.held;
  }

  async query(query: StoreQuery): Promise<StoreAnswer> {
    const r = await this.ask({ type: "query", id: this.nextId++, query });
    return r.type === "answer" ? r.answer : STORES_GONE;
  }

  stats(): CaptureStats {
    return { ...this.remote.stats, eventsPerSec: this.rate.perSec };
  }

  correlatedEvents(): number {
    return this.remote.correlated;
  }

  /**
   * Recomputes events/s from the counts the worker sent since the last call, timed by when the worker
   * read them: a worker busy with a flood may send them late, and no new count is no news (the
   * rate stays), not a rate of 0.
   */
  sampleRate(): CaptureStats {
    const { atMs, stats: { events } } = this.remote;
    if (atMs > this.rate.atMs) {
      const perSec = this.rate.atMs === 0 ? 0 : Math.round(((events - this.rate.events) * 1000) / (atMs - this.rate.atMs));
      this.rate = { atMs, events, perSec };
    }
    return this.stats();
  }

  /** The worker keeps the log (its capacity set at construction); a download reads it chunk by chunk. */
  followCapture(): { log: CaptureFeedSource; detach: () => void } {
    const log: CaptureFeedSource = {
      open: async (sourceName) => {
        const id = this.nextId++;
        const opened = await this.ask({ type: "capture", id, sourceName });
        if (opened.type !== "capture") throw new Error("the pipeline worker did not open the capture log");
        const feed: CaptureFeed = {
          size: opened.size, dropped: opened.dropped, header: opened.header,
          next: async () => {
            const r = await this.ask({ type: "next", id });
            return r.type === "chunk" ? r.text : undefined;
          },
          cancel: () => this.post({ type: "cancel", id }),
        };
        return feed;
      },
    };
    return { log, detach: () => undefined };
  }

  private receive(msg: PipelineWorkerMessage): void {
    switch (msg.type) {
      case "out":
        this.remote = msg.remote;
        this.source.live = msg.remote.stats.live;
        Atomics.sub(new Int32Array(this.outstanding), 0, 1);
        if (msg.pings.length === 0 && msg.summarised.complete + msg.summarised.other === 0) return;
        for (const l of this.streamListeners) l(msg.pings, msg.summarised);
        return;
      case "stats":
      case "stopped":
        this.remote = msg.remote;
        this.source.live = msg.type === "stats" && msg.remote.stats.live;
        return;
      case "filter":
      case "capture":
      case "chunk":
      case "answer":
        this.pending.get(msg.id)?.answer(msg);
        this.pending.delete(msg.id);
        return;
      case "ready":
      case "failed":
        return;
    }
  }

  private post(cmd: PipelineCommand): void {
    this.worker?.postMessage(cmd);
  }

  /** A command answered by id; a worker that is gone answers with an empty chunk (the end), or STORES_GONE. */
  private ask(cmd: Extract<PipelineCommand, { id: number }>): Promise<Reply> {
    const gone: Reply = cmd.type === "query" ? { type: "answer", id: cmd.id, answer: STORES_GONE } : { type: "chunk", id: cmd.id };
    if (!this.worker || this.worker.threadId < 0) return Promise.resolve(gone);
    return new Promise((resolve) => {
      this.pending.set(cmd.id, { answer: resolve, gone });
      this.post(cmd);
    });
  }
}
