// Worker thread: the whole live pipeline of `serve` (source → decode → netns names → Correlator →
// stores and capture log) off the main thread, which serves HTTP and WebSocket. The stores are here:
// the main thread asks them what a route or a snapshot needs (server/storeQuery.ts) and gets JSON
// text, and it is sent the finished pings the stream needs, as text, sampled under a flood
// (shared/sample.ts) to the newest plus every ping that did not complete. While the main thread has
// not taken the last two messages, what would go waits here and is sampled again, so a main thread
// that falls behind costs bounded memory, not lost correlation.
import { parentPort, workerData } from "node:worker_threads";
import { MAX_SNAPSHOT, type CaptureStats } from "../shared/protocol.ts";
import { addSummarised, NONE_SUMMARISED, pingSession, sampleNewest, type Summarised } from "../shared/sample.ts";
import { oneLine } from "../shared/shown.ts";
import type { Ping } from "../shared/types.ts";
import type { FilterProgram } from "../shared/filter/index.ts";
import type { CaptureFilter } from "./capture/source.ts";
import { CaptureLog, type CaptureFeed } from "./captureLog.ts";
import { NetnsNamer } from "./names.ts";
import { Pipeline } from "./pipeline.ts";
import { BadInputError, sourceFor } from "./sources.ts";
import { answerQuery, textPing, type StoreAnswer, type StoreQuery, type StreamedPing } from "./storeQuery.ts";

export type LiveSpec = "auto" | "ebpf" | "tracefs" | "demo";

export interface PipelineWorkerData {
  spec: LiveSpec;
  filter: CaptureFilter;
  /** pings (and other exchanges) the stores hold */
  capacity: number;
  /** complete pings sent to the stream per flush, at most: the newest (every other one is sent) */
  streamPerFlush: number;
  captureLogEvents?: number;
  maxQueuedEvents?: number;
  tickMs?: number;
  /** how often finished pings are sent */
  flushMs: number;
  /** Int32 at 0: batches posted and not yet taken by the main thread */
  outstanding: SharedArrayBuffer;
}

/** A live source `auto` tried and could not start: its name and why (said by the main thread, in order). */
export type Skipped = [name: string, why: string];

export interface RemoteStats {
  stats: CaptureStats;
  correlated: number;
  /** pings the store holds */
  held: number;
  /** when these were read, in the worker (ms since the epoch, sub-millisecond): the rate is measured between two of them */
  atMs: number;
}

export type PipelineCommand =
  | { type: "stop" }
  | { type: "filter"; id: number; program: FilterProgram }
  | { type: "capture"; id: number; sourceName: string }
  | { type: "next"; id: number }
  | { type: "cancel"; id: number }
  | { type: "query"; id: number; query: StoreQuery };

export type PipelineWorkerMessage =
  | { type: "ready"; name: string; warnings: string[]; skipped: Skipped[]; remote: RemoteStats }
  | { type: "failed"; message: string; badInput: boolean; skipped: Skipped[] }
  | { type: "out"; pings: StreamedPing[]; summarised: Summarised; remote: RemoteStats }
  | { type: "answer"; id: number; answer: StoreAnswer }
  | { type: "stats"; remote: RemoteStats }
  | { type: "filter"; id: number; error?: string }
  | { type: "capture"; id: number; size: number; dropped: number; header: string }
  | { type: "chunk"; id: number; text?: string }
  | { type: "stopped"; remote: RemoteStats };

/** Batches the main thread may hold untaken before new ones wait here. */
const MAX_OUTSTANDING = 2;
const STATS_EVERY_MS = 250;

const say = (line: string): void => void process.stderr.write(`pktpath: ${oneLine(line)}\n`);

function post(msg: PipelineWorkerMessage): void {
  parentPort?.postMessage(msg);
}

async function run(data: PipelineWorkerData): Promise<void> {
  const skipped: Skipped[] = [];
  const source = sourceFor(data.spec, data.filter, (name, why) => void skipped.push([name, why]));
  const pipeline = new Pipeline(source, {
    namer: new NetnsNamer(), capacity: data.capacity, onError: say,
    ...(data.maxQueuedEvents === undefined ? {} : { maxQueuedEvents: data.maxQueuedEvents }),
    ...(data.tickMs === undefined ? {} : { tickMs: data.tickMs }),
  });
  const capture = CaptureLog.follow(pipeline, data.captureLogEvents);
  const outstanding = new Int32Array(data.outstanding);
  let pings: Ping[] = [];
  let summarised: Summarised = { ...NONE_SUMMARISED };
  const remote = (): RemoteStats => ({
    stats: pipeline.stats(), correlated: pipeline.correlatedEvents(), held: pipeline.held(), atMs: performance.timeOrigin + performance.now(),
  });
  // What waits for the stream is sampled as it comes: it stays bounded however long it waits.
  const sample = (): void => {
    const s = sampleNewest(pings, data.streamPerFlush, MAX_SNAPSHOT, pingSession);
    pings = s.pings;
    summarised = addSummarised(summarised, s.summarised);
  };
  pipeline.onPings((batch) => {
    for (const p of batch) pings.push(p);
    if (pings.length > 2 * MAX_SNAPSHOT) sample();
  });
  // Only what the stream may send is made into text, once, here.
  const flush = (force = false): void => {
    if (!force && Atomics.load(outstanding, 0) >= MAX_OUTSTANDING) return;
    sample();
    if (pings.length === 0 && summarised.complete + summarised.other === 0) return;
    Atomics.add(outstanding, 0, 1);
    post({ type: "out", pings: pings.map(textPing), summarised, remote: remote() });
    pings = [];
    summarised = { ...NONE_SUMMARISED };
  };

  try {
    await pipeline.start();
  } catch (e) {
    capture.detach();
    return post({ type: "failed", message: e instanceof Error ? e.message : String(e), badInput: e instanceof BadInputError, skipped });
  }
  post({ type: "ready", name: source.name, warnings: [...(source.warnings ?? [])], skipped, remote: remote() });
  const timers = [
    setInterval(() => flush(), data.flushMs),
    setInterval(() => post({ type: "stats", remote: remote() }), STATS_EVERY_MS),
  ];
  const feeds = new Map<number, CaptureFeed>();
  parentPort?.on("message", (cmd: PipelineCommand) => void handle(cmd));

  async function handle(cmd: PipelineCommand): Promise<void> {
    switch (cmd.type) {
      case "filter": {
        const error = source.setFilter === undefined ? `the ${source.name} source has no kernel filter to change`
          : await source.setFilter(cmd.program).then(() => undefined, (e: unknown) => (e instanceof Error ? e.message : String(e)));
        return post(error === undefined ? { type: "filter", id: cmd.id } : { type: "filter", id: cmd.id, error });
      }
      case "capture": {
        const feed = await capture.log.open(cmd.sourceName);
        feeds.set(cmd.id, feed);
        return post({ type: "capture", id: cmd.id, size: feed.size, dropped: feed.dropped, header: feed.header });
      }
      case "next": {
        const text = await feeds.get(cmd.id)?.next();
        if (text === undefined) feeds.delete(cmd.id);
        return post(text === undefined ? { type: "chunk", id: cmd.id } : { type: "chunk", id: cmd.id, text });
      }
      case "cancel":
        feeds.get(cmd.id)?.cancel();
        feeds.delete(cmd.id);
        return;
      case "query":
        return post({ type: "answer", id: cmd.id, answer: answerQuery(pipeline, cmd.query) });
      case "stop":
        for (const t of timers) clearInterval(t);
        await pipeline.stop();
        flush(true);
        capture.detach();
        post({ type: "stopped", remote: remote() });
        parentPort?.close();
        return;
    }
  }
}

if (parentPort && workerData) void run(workerData as PipelineWorkerData);
