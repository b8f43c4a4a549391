// The four commands. Each returns its exit status: 0 success, 2 bad usage or input, 1 anything else.
// Messages go to stderr as one line each; stdout carries only the command's output.
import { setPriority } from "node:os";
import { setFlagsFromString } from "node:v8";
import { oneLine, shown } from "../shared/shown.ts";
import { formatExchange, formatJourney } from "../shared/tracepkt.ts";
import type { Command, LiveSource } from "./args.ts";
import { readDropReasons } from "./capture/btf.ts";
import { CaptureFileError, CaptureWriter, fileLines } from "./capture/file.ts";
import { openCapture } from "../shared/importers/openCapture.ts";
import type { CaptureFilter } from "./capture/source.ts";
import { NetnsNamer } from "./names.ts";
import { Pipeline, type ServedPipeline } from "./pipeline.ts";
import { OffloadedPipeline } from "./offload.ts";
import { checkTokenText } from "./security.ts";
import { startServer } from "./serve.ts";
import type { FilterControl } from "./listRoutes.ts";
import type { CaptureSource } from "./capture/source.ts";
import { buildFilter } from "../shared/filter/index.ts";
import { isoMicros } from "../shared/wallclock.ts";
import { BadInputError, firstAvailable, liveCandidates, sourceFor } from "./sources.ts";

type Cmd<K extends Command["cmd"]> = Extract<Command, { cmd: K }>;

/** serve's old generations grow by this much past what a full collection left live (see runServe) */
export const HEAP_GROWING_PERCENT = 50;
/** the nice value of the thread that serves the page and the stream (see raiseServingPriority) */
export const SERVING_NICE = -5;

/**
 * This thread ahead of the others when it wakes. It mostly waits; under a flood the CPUs are busy
 * (the flood itself, the pipeline worker, a browser), and it used to wait for one: the event loop's
 * delay was CPU starvation, the profile idle. On Linux a nice value is a thread's own, and threads
 * inherit it when they start, so this runs once the workers have started. Without the right to
 * (CAP_SYS_NICE, root's) it stays as it was.
 */
function raiseServingPriority(): void {
  try {
    setPriority(0, SERVING_NICE);
  } catch {
    /* not allowed: the default priority */
  }
}

// Paths in a line are shown() by whoever puts them there; oneLine() is the guard for the rest (an
// error's own message), so a message is always one line and never drives the terminal.
const say = (line: string): void => void process.stderr.write(`pktpath: ${oneLine(line)}\n`);
/** `FILE:LINE: what` lines stand alone, as compilers print them, so editors and scripts can jump there. */
const sayAt = (line: string): void => void process.stderr.write(`${oneLine(line)}\n`);
const onSkip = (name: string, why: string): void => say(`${name} capture unavailable: ${why}`);
const message = (e: unknown): string => (e instanceof Error ? e.message : String(e));

/**
 * Resolves on SIGINT/SIGTERM, when `stop` is called, or `durationS` after `live()` (capture running:
 * the time it takes to load and attach is not taken from the capture's duration).
 */
function stopWhen(durationS?: number): { done: Promise<string>; stop: (why: string) => void; live: () => void } {
  let stop: (why: string) => void = () => undefined;
  const done = new Promise<string>((resolve) => (stop = resolve));
  const onSignal = (sig: NodeJS.Signals) => stop(sig);
  process.once("SIGINT", onSignal).once("SIGTERM", onSignal);
  let timer: NodeJS.Timeout | undefined;
  const live = (): void => {
    if (durationS !== undefined && timer === undefined) timer = setTimeout(() => stop("duration"), durationS * 1000);
  };
  void done.then(() => {
    clearTimeout(timer);
    process.off("SIGINT", onSignal).off("SIGTERM", onSignal);
  });
  return { done, stop, live };
}

/** Starts a pipeline; a failure to start is exit 2 for bad input (a capture file), 1 otherwise. */
async function startPipeline(pipeline: ServedPipeline): Promise<number> {
  try {
    await pipeline.start();
    for (const w of pipeline.source.warnings ?? []) say(w);
    return 0;
  } catch (e) {
    if (e instanceof BadInputError) return (sayAt(e.message), 2);
    say(message(e));
    return 1;
  }
}

export async function runServe(cmd: Cmd<"serve">): Promise<number> {
  const token = cmd.token;
  if (token !== undefined) {
    const bad = checkTokenText(token);
    if (bad !== null) return (say(`serve: ${bad}`), 2);
  }
  // The pipeline worker keeps the newest 10,000 pings. Under a flood they turn over in a fraction of a
  // second, each one old enough by then to have been promoted, so the worker's old generation fills
  // with pings already gone, and V8 lets it grow to about three times what is live before a full
  // collection (56 MiB live, 180 MiB before each). Half again what is live instead: serve's peak RSS
  // under 15 s of `ping -f` 452 -> 315 MiB, idle 200 -> 180, for about a seventh fewer records
  // correlated (5.6M -> 4.8M, medians of 4 and 5 runs, measured before the kernel sampled heavy
  // flows): under a flood, which is sampled anyway, a dashboard that stays small is worth more. A V8
  // flag is the process's: set before the worker starts, it holds for every thread.
  setFlagsFromString(`--heap-growing-percent=${HEAP_GROWING_PERCENT}`);
  // Live capture's batches (up to 1 MiB, one after another under a flood) are mapped each on its own,
  // and go back to the system once freed (see fixMmapThreshold); set first, before any thread
  // allocates: set in the capture worker, once it started, it saved a third as much.
  if (cmd.source === "ebpf" || cmd.source === "auto") (await import("./capture/libbpf.ts")).fixMmapThreshold();
  // A capture file is read here, at once; a live source (or the demo loop) runs with its decoding and
  // correlation in a worker, so that no flood can hold up the thread that serves the page.
  const pipeline: ServedPipeline = typeof cmd.source === "object"
    ? new Pipeline(sourceFor(cmd.source, cmd.filter, onSkip, cmd.pace), { onError: say })
    : new OffloadedPipeline(cmd.source, cmd.filter, { onError: say, onSkip });
  const source = pipeline.source;
  const stopper = stopWhen();
  // Bound before the capture starts: a busy port should not cost a BPF load.
  let server;
  try {
    const filter = pipeline instanceof OffloadedPipeline && cmd.source !== "demo"
      ? filterControl(pipeline.source, cmd.filter.expression) : undefined;
    server = await startServer(pipeline, { host: cmd.host, port: cmd.port, token, ...(filter ? { filter } : {}) });
  } catch (e) {
    stopper.stop("error");
    say(`serve: cannot listen on ${shown(cmd.host)}:${cmd.port}: ${message(e)}`);
    return 1;
  }
  const started = await startPipeline(pipeline);
  if (started !== 0) {
    stopper.stop("error");
    await server.close();
    return started;
  }
  raiseServingPriority();
  if (cmd.source === "auto" && source.name === "demo") {
    say("live capture is unavailable (reasons above): showing the bundled demo capture, not this machine's traffic");
  }
  process.stdout.write(`pktpath: serving ${server.url} (source: ${shown(source.name)})\n`);
  // A bind beyond loopback got a token of its own (startServer decides by the address bound).
  if (server.token !== undefined && cmd.token === undefined) say(`open ${server.url}/?token=${server.token}`);
  await stopper.done;
  await server.close();
  await pipeline.stop();
  return 0;
}

/**
 * The dashboard's view of the kernel filter: a new expression is compiled here and switched to at
 * once for every client (the programs stay loaded: only the filter map changes). A bad expression is
 * refused with the parser's message and where it stopped (a 0-based offset into the text).
 */
function filterControl(source: Pick<CaptureSource, "name" | "setFilter">, initial: string): FilterControl {
  let current = initial;
  return {
    current: () => current,
    async set(expression) {
      const built = buildFilter(expression);
      if (!built.ok) return { ok: false, error: built.message, column: Math.max(0, (built.column ?? 1) - 1) };
      try {
        await source.setFilter?.(built.value.program);
      } catch (e) {
        return { ok: false, error: message(e), column: 0 };
      }
      if (!source.setFilter) return { ok: false, error: `the ${source.name} source has no kernel filter to change`, column: 0 };
      current = built.value.expression;
      say(`capture filter now ${current === "" ? "the default (ICMP echoes and errors about them)" : JSON.stringify(current)}`);
      return { ok: true, expression: current };
    },
  };
}

function livePipeline(filter: CaptureFilter, only: LiveSource): Pipeline {
  return new Pipeline(firstAvailable(liveCandidates(filter, only), onSkip), { namer: new NetnsNamer(), onError: say });
}

export async function runTrace(cmd: Cmd<"trace">): Promise<number> {
  const pipeline = livePipeline(cmd.filter, cmd.source);
  const stopper = stopWhen(cmd.durationS);
  let printed = 0;
  // Every exchange the filter let through: pings (the icmp-echo ones, Ping objects), TCP and UDP.
  const timeZone = Intl.DateTimeFormat().resolvedOptions().timeZone;
  pipeline.onExchanges((exchanges) => {
    for (const x of exchanges) {
      if (cmd.count !== undefined && printed >= cmd.count) break;
      process.stdout.write(cmd.json ? JSON.stringify(x) + "\n" : formatExchange(x, { timeZone }) + "\n\n");
      printed++;
    }
    if (cmd.count !== undefined && printed >= cmd.count) stopper.stop("count");
  });
  const started = await startPipeline(pipeline);
  if (started !== 0) return (stopper.stop("error"), started);
  say(`tracing (source: ${pipeline.source.name})`);
  stopper.live();
  if (pipeline.source.name === "tracefs") {
    // tracefs prints no packet headers: echoes cannot be paired, but each skb's path still shows.
    say(cmd.json ? "tracefs gives no packet headers: no pings to print" : "tracefs gives no packet headers: printing journeys (one skb's hops each), not pings");
    if (!cmd.json) {
      pipeline.onJourneys((journeys) => {
        for (const j of journeys) {
          if (cmd.count !== undefined && printed >= cmd.count) break;
          process.stdout.write(formatJourney(j) + "\n\n");
          printed++;
        }
        if (cmd.count !== undefined && printed >= cmd.count) stopper.stop("count");
      });
    }
  }
  await stopper.done;
  await pipeline.stop();
  return 0;
}

export async function runRecord(cmd: Cmd<"record">): Promise<number> {
  const opened = await CaptureWriter.open(cmd.out);
  if (!opened.ok) return (say(`record: ${opened.error}`), 2);
  const writer = opened.value;
  const pipeline = livePipeline(cmd.filter, cmd.source);
  pipeline.onEvents((events) => writer.write(events));
  let pings = 0;
  pipeline.onPings((p) => (pings += p.length));
  const stopper = stopWhen(cmd.durationS);
  const started = await startPipeline(pipeline);
  if (started !== 0) {
    stopper.stop("error");
    await writer.close();
    return started;
  }
  const origin = pipeline.source.originUs?.();
  writer.writeHeader(pipeline.source.name, origin === undefined ? new Date() : isoMicros(origin));
  say(`recording to ${shown(cmd.out)} (source: ${pipeline.source.name})`);
  stopper.live();
  await stopper.done;
  await pipeline.stop();
  const closed = await writer.close();
  if (!closed.ok) return (say(`record: ${closed.error}`), 1);
  say(`recorded ${writer.events} events (${pings} pings) to ${shown(cmd.out)}`);
  return 0;
}

/** perf trace prints kfree_skb reasons as numbers: named from this kernel's BTF, as the capture's
 * own kernel is unknown (numbers are stable within a kernel release, not across). */
async function kernelReasonNames(): Promise<((value: number) => string | undefined) | undefined> {
  const reasons = await readDropReasons();
  return reasons.ok ? (v) => reasons.value.get(v) : undefined;
}

export async function runImport(cmd: Cmd<"import">): Promise<number> {
  let opened;
  try {
    opened = await openCapture(fileLines(cmd.file), { format: cmd.format, reasonName: await kernelReasonNames() });
  } catch (e) {
    if (e instanceof CaptureFileError) return (sayAt(e.message), 2);
    throw e;
  }
  if (!opened.ok) return (sayAt(`${shown(cmd.file)}:${opened.error}`), 2);
  const { journeys, pings, exchanges } = opened.value;
  if (cmd.json) {
    process.stdout.write(JSON.stringify({ journeys, pings }) + "\n");
    return 0;
  }
  // Each exchange with its hops (pings, TCP, UDP); then the journeys none claims (no packet headers
  // in the capture, or traffic that pairs with nothing).
  const timeZone = Intl.DateTimeFormat().resolvedOptions().timeZone;
  for (const x of exchanges) process.stdout.write(formatExchange(x, { timeZone }) + "\n\n");
  const claimed = new Set(exchanges.flatMap((x) => [x.request?.id, x.reply?.id, x.error?.journey?.id,
    ...(x.fragments ?? []).map((f) => f.id), ...(x.retries ?? []).map((r) => r.id)]));
  for (const j of journeys) if (!claimed.has(j.id)) process.stdout.write(formatJourney(j) + "\n\n");
  return 0;
}
