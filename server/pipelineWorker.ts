// Worker thread: the whole live pipeline of `serve` (source → decode → netns names → Correlator →
// capture log) off the main thread, which serves HTTP and WebSocket and receives finished pings and
// exchanges in batches (server/offload.ts). Under a flood the batches are sampled (shared/sample.ts)
// to what the main thread's store holds anyway: its newest `capacity`, plus every ping that did not
// complete; and while the main thread has not taken the last two, they wait here and are sampled
// again, so a main thread that falls behind costs bounded memory, not lost correlation.
import { parentPort, workerData } from "node:worker_threads";
import { isPing } from "../shared/pings.ts";
import type { CaptureStats } from "../shared/protocol.ts";
import { addSummarised, NONE_SUMMARISED, sampleNewest, type Summarised } from "../shared/sample.ts";
import { oneLine } from "../shared/shown.ts";
import type { Exchange, Ping } from "../shared/types.ts";
import type { FilterProgram } from "../shared/filter/index.ts";
import type { CaptureFilter } from "./capture/source.ts";
import { CaptureLog, type CaptureFeed } from "./captureLog.ts";
import { NetnsNamer } from "./names.ts";
import { Pipeline } from "./pipeline.ts";
import { BadInputError, sourceFor } from "./sources.ts";

export type LiveSpec = "auto" | "ebpf" | "tracefs" | "demo";

export interface PipelineWorkerData {
  spec: LiveSpec;
  filter: CaptureFilter;
  /** pings (and other exchanges) the main thread's store holds: the newest this many are always sent */
  capacity: number;
  captureLogEvents?: number;
  maxQueuedEvents?: number;
  tickMs?: number;
  /** how often finished pings are sent */
  flushMs: number;
  /** Int32 at 0: batches posted and not yet taken by the main thread */
  outstanding: SharedArrayBuffer;
}

export interface RemoteStats {
  stats: CaptureStats;
  correlated: number;
}

export type PipelineCommand =
  | { type: "stop" }
  | { type: "filter"; id: number; program: FilterProgram }
  | { type: "capture"; id: number; sourceName: string }
  | { type: "next"; id: number }
  | { type: "cancel"; id: number };

export type PipelineWorkerMessage =
  | { type: "ready"; name: string; warnings: string[]; remote: RemoteStats }
  | { type: "failed"; message: string; badInput: boolean }
  | { type: "out"; pings: Ping[]; exchanges: Exchange[]; summarised: Summarised; remote: RemoteStats }
  | { type: "stats"; remote: RemoteStats }
  | { type: "filter"; id: number; error?: string }
  | { type: "capture"; id: number; size: number; dropped: number; header: string }
  | { type: "chunk"; id: number; text?: string }
  | { type: "stopped"; remote: RemoteStats };

/** Batches the main thread may hold untaken before new ones wait here. */
const MAX_OUTSTANDING = 2;
/** Pings in one message at most: about 15 ms of the main thread's time to take (bench/soak.ts). */
const PER_MESSAGE = 400;
const STATS_EVERY_MS = 250;

const say = (line: string): void => void process.stderr.write(`pktpath: ${oneLine(line)}\n`);

function post(msg: PipelineWorkerMessage): void {
  parentPort?.postMessage(msg);
}

async function run(data: PipelineWorkerData): Promise<void> {
  const source = sourceFor(data.spec, data.filter, (name, why) => say(`${name} capture unavailable: ${why}`));
  // The worker's own store holds nothing: what is kept is the main thread's.
  const pipeline = new Pipeline(source, {
    namer: new NetnsNamer(), capacity: 1, onError: say,
    ...(data.maxQueuedEvents === undefined ? {} : { maxQueuedEvents: data.maxQueuedEvents }),
    ...(data.tickMs === undefined ? {} : { tickMs: data.tickMs }),
  });
  const capture = CaptureLog.follow(pipeline, data.captureLogEvents);
  const outstanding = new Int32Array(data.outstanding);
  let pings: Ping[] = [];
  let exchanges: Exchange[] = [];
  let summarised: Summarised = { ...NONE_SUMMARISED };
  const remote = (): RemoteStats => ({ stats: pipeline.stats(), correlated: pipeline.correlatedEvents() });
  // What waits is sampled as it comes: at most twice the store's bound is ever held here.
  const sample = (): void => {
    const s = sampleNewest(pings, data.capacity, data.capacity);
    pings = s.pings;
    summarised = addSummarised(summarised, s.summarised);
    if (exchanges.length > data.capacity) exchanges = exchanges.slice(-data.capacity);
  };
  pipeline.onPings((batch) => {
    for (const p of batch) pings.push(p);
    if (pings.length > 2 * data.capacity) sample();
  });
  pipeline.onExchanges((batch) => {
    for (const x of batch) if (!isPing(x)) exchanges.push(x);
    if (exchanges.length > 2 * data.capacity) sample();
  });
  // In messages of at most PER_MESSAGE pings (and as many exchanges), oldest first: the main thread
  // takes each in one task, so one message's size bounds how long it blocks HTTP and WebSocket.
  const flush = (force = false): void => {
    sample();
    while (pings.length > 0 || exchanges.length > 0) {
      if (!force && Atomics.load(outstanding, 0) >= MAX_OUTSTANDING) return;
      const out = pings.splice(0, PER_MESSAGE), outX = exchanges.splice(0, PER_MESSAGE);
      Atomics.add(outstanding, 0, 1);
      post({ type: "out", pings: out, exchanges: outX, summarised, remote: remote() });
      summarised = { ...NONE_SUMMARISED };
    }
  };

  try {
    await pipeline.start();
  } catch (e) {
    capture.detach();
    return post({ type: "failed", message: e instanceof Error ? e.message : String(e), badInput: e instanceof BadInputError });
  }
  post({ type: "ready", name: source.name, warnings: [...(source.warnings ?? [])], remote: remote() });
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
