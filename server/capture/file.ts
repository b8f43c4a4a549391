// The pktpath capture file: NDJSON, a header line, then one RawEvent per line in time order.
// Read as a stream, never whole: captures can be larger than memory, and a line can be endless.
import { createReadStream, createWriteStream, type WriteStream } from "node:fs";
import { once, type EventEmitter } from "node:events";
import { release } from "node:os";
import { setTimeout as sleep } from "node:timers/promises";
import { err, ok, type Result } from "../../shared/result.ts";
import type { RawEvent } from "../../shared/types.ts";
import { isObject } from "../../shared/validate.ts";
import { parseIsoMicros } from "../../shared/wallclock.ts";
import type { ReuseGuess } from "../../shared/journeys.ts";
import { LineSplitter } from "../../shared/importers/lineSplitter.ts";
import { shown } from "../../shared/shown.ts";
import { CaptureLineReader, type CaptureFormat, type CaptureHeader, type CaptureItem } from "../../shared/importers/captureReader.ts";
import type { CaptureSource, SourceCounters } from "./source.ts";

export { parseHeader, type CaptureFormat, type CaptureHeader, type CaptureItem } from "../../shared/importers/captureReader.ts";

/** An I/O failure while reading a capture file; the message names the file (and the line). */
export class CaptureFileError extends Error {}

/**
 * A file's lines, streamed (never read whole). A line past the reader's limit comes out cut just past
 * it and the rest of it is not held (LineSplitter), so `/dev/zero` costs a chunk of memory, not all
 * of it. Throws CaptureFileError when the file cannot be read.
 */
export async function* fileLines(path: string): AsyncGenerator<string> {
  const input = createReadStream(path, { encoding: "utf8", highWaterMark: 64 * 1024 });
  const opened = await openError(input);
  if (opened !== null) throw new CaptureFileError(`${shown(path)}: ${describeIoError(opened)}`);
  const splitter = new LineSplitter();
  let lineNo = 0;
  try {
    for await (const chunk of input) {
      for (const text of splitter.push(String(chunk))) {
        lineNo++;
        yield text;
      }
    }
  } catch (e) {
    throw new CaptureFileError(`${shown(path)}:${lineNo + 1}: ${describeIoError(e)}`);
  } finally {
    input.destroy();
  }
  yield* splitter.end();
}

/**
 * Yields the header, then the events, one line at a time. A bad line ends the stream with an error
 * value `FILE:LINE: what is wrong`; a file that cannot be opened gives `FILE: why`. Text captures of
 * other tools get a header naming their layout; `auto` tells JSON from text by the first line.
 */
export async function* readCapture(path: string, format: CaptureFormat = "auto",
  reasonName?: (value: number) => string | undefined): AsyncGenerator<Result<CaptureItem>> {
  const reader = new CaptureLineReader(format, reasonName);
  try {
    for await (const text of fileLines(path)) {
      const items = reader.line(text);
      if (!items.ok) {
        yield err(`${shown(path)}:${items.error}`);
        return;
      }
      yield* items.value.map((item) => ok(item));
    }
  } catch (e) {
    if (!(e instanceof CaptureFileError)) throw e;
    yield err(e.message);
    return;
  }
  const rest = reader.end();
  yield* rest.ok ? rest.value.map((item) => ok(item)) : [err<CaptureItem>(`${shown(path)}:${rest.error}`)];
}

/** null once the file is open, else the error that kept it closed. */
function openError(stream: EventEmitter): Promise<unknown> {
  return new Promise((resolve) => {
    stream.once("ready", () => resolve(null));
    stream.once("error", (e: unknown) => resolve(e));
  });
}

/** What the system said, without the path Node puts in its messages (the caller names it, escaped). */
const IO_ERRORS: Record<string, string> = {
  ENOENT: "no such file", EISDIR: "is a directory", EACCES: "permission denied", ENOTDIR: "not a directory",
  ENAMETOOLONG: "name too long", ELOOP: "too many symbolic links", EROFS: "read-only file system",
  ENOSPC: "no space left on device", EPERM: "operation not permitted", EIO: "input/output error",
};

export function describeIoError(e: unknown): string {
  const code = isObject(e) && typeof e.code === "string" ? e.code : undefined;
  if (code !== undefined) return (Object.hasOwn(IO_ERRORS, code) ? IO_ERRORS[code] : undefined) ?? code;
  return e instanceof Error ? e.message : String(e);
}

/** Line 1 of a capture this machine writes (`record`, and the dashboard's saved session), newline included. */
export function captureHeaderLine(source: string, startedAt: Date | string): string {
  const header: CaptureHeader = { pktpath: "capture", version: 1, source, kernel: release(),
    startedAt: typeof startedAt === "string" ? startedAt : startedAt.toISOString() };
  return JSON.stringify(header) + "\n";
}

/**
 * Writes a capture file. Opened before the source starts (a bad path fails early); the header follows
 * once the source is known, and events that come before it wait in memory.
 */
export class CaptureWriter {
  private readonly out: WriteStream;
  private failure: Error | null = null;
  private early: RawEvent[] | null = [];
  /** events written (or waiting for the header) */
  events = 0;

  private constructor(out: WriteStream) {
    this.out = out;
    out.on("error", (e) => (this.failure = e));
  }

  static async open(path: string): Promise<Result<CaptureWriter>> {
    const out = createWriteStream(path, { flags: "w" });
    const opened = await openError(out);
    if (opened !== null) return err(`${shown(path)}: ${describeIoError(opened)}`);
    return ok(new CaptureWriter(out));
  }

  /** startedAt: the wall-clock time of tNs 0 (ISO 8601), which `at` times are read from. */
  writeHeader(source: string, startedAt: Date | string): void {
    this.out.write(captureHeaderLine(source, startedAt));
    const early = this.early ?? [];
    this.early = null;
    this.writeLines(early);
  }

  write(events: RawEvent[]): void {
    this.events += events.length;
    if (this.early !== null) {
      for (const e of events) this.early.push(e);
      return;
    }
    this.writeLines(events);
  }

  private writeLines(events: RawEvent[]): void {
    if (events.length === 0 || this.failure) return;
    this.out.write(events.map((e) => JSON.stringify(e)).join("\n") + "\n");
  }

  /** Flushes and closes; reports a write error seen at any time. */
  async close(): Promise<Result<void>> {
    if (!this.out.closed) {
      this.out.end();
      await once(this.out, "close").catch(() => undefined);
    }
    return this.failure ? err(`${shown(String(this.out.path))}: ${describeIoError(this.failure)}`) : ok(undefined);
  }
}

export interface FileSourceOptions {
  /** 1 replays at the recorded pace (the default); Infinity as fast as the file reads. */
  speed?: number;
  /** the file's layout; detected when absent */
  format?: CaptureFormat;
  /** Called once with `FILE:LINE: what` if the file turns bad after start() resolved. */
  onError?: (message: string) => void;
  /** Start over after the last event (the demo), each round later on the same timeline. */
  loop?: boolean;
  /** What /api/health calls the source; the path when absent. */
  name?: string;
}

/** Quiet time between two rounds of a looping replay. */
const LOOP_GAP_NS = 2e9;

/** Largest batch handed to the sink at once, so a fast replay does not starve the event loop. */
const MAX_BATCH = 512;

/**
 * Replays a capture file as a CaptureSource (`serve FILE`): start() checks the header, then events are
 * delivered at their recorded offsets from start(), in batches of the events that are due.
 */
export function createFileSource(path: string, opts: FileSourceOptions = {}): CaptureSource & { done: Promise<void> } {
  const speed = opts.speed ?? 1;
  const counters: SourceCounters = { events: 0, lost: 0 };
  const abort = new AbortController();
  let finished: () => void = () => undefined;
  const done = new Promise<void>((resolve) => (finished = resolve));
  let reader: AsyncGenerator<Result<CaptureItem>> | null = null;
  let originUs: number | undefined;
  let guessReuse: ReuseGuess = "never";
  // The replay's present: while it waits for an event's time, the wall clock since start; while it
  // is behind (a slow disk, a busy CPU), the last event it delivered, so timeouts never run ahead of
  // events still unread.
  let startHr = process.hrtime.bigint();
  let lastTNs = 0;
  let waiting = false;
  const wallNs = () => Number(process.hrtime.bigint() - startHr);

  async function replay(sink: (events: RawEvent[]) => void): Promise<void> {
    let batch: RawEvent[] = [];
    const deliver = () => {
      if (batch.length === 0) return;
      counters.events += batch.length;
      lastTNs = Math.max(lastTNs, batch[batch.length - 1]?.tNs ?? 0);
      sink(batch);
      batch = [];
    };
    let offsetNs = 0;
    for (;;) {
      const ended = await replayRound(offsetNs);
      if (ended === "stop" || !opts.loop || abort.signal.aborted) break;
      offsetNs = lastTNs + LOOP_GAP_NS;
      reader = readCapture(path, opts.format);
    }

    /** One pass over the file; its events shifted by offsetNs. */
    async function replayRound(offsetNs: number): Promise<"stop" | "end"> {
      for await (const item of reader ?? []) {
        if (abort.signal.aborted) return "stop";
        if (!item.ok) {
          deliver();
          opts.onError?.(item.error);
          return "stop";
        }
        if (item.value.kind !== "event") continue;
        const ev = offsetNs === 0 ? item.value.event : { ...item.value.event, tNs: item.value.event.tNs + offsetNs };
        const waitMs = Number.isFinite(speed) ? (ev.tNs / speed - wallNs()) / 1e6 : 0;
        if (waitMs > 1 || batch.length >= MAX_BATCH) {
          deliver();
          waiting = waitMs > 1;
          await sleep(Math.max(0, waitMs), undefined, { signal: abort.signal }).catch(() => undefined);
          waiting = false;
          if (abort.signal.aborted) return "stop";
        }
        batch.push(ev);
      }
      deliver();
      return "end";
    }
    deliver();
    // After the last event, time goes on from it at the wall clock's pace.
    const endNs = wallNs();
    const endTNs = lastTNs;
    clock = () => endTNs + (wallNs() - endNs);
  }
  let clock = (): number => (waiting ? Math.max(lastTNs, wallNs() * speed) : lastTNs);

  return {
    name: opts.name ?? path,
    live: false,
    done,
    async start(sink) {
      reader = readCapture(path, opts.format);
      const first = await reader.next();
      const header: Result<CaptureItem> = first.done ? err(`${shown(path)}:1: empty file`) : first.value;
      if (!header.ok) {
        finished();
        throw new Error(header.error);
      }
      if (header.value.kind === "header") {
        originUs = parseIsoMicros(header.value.header.startedAt);
        if (header.value.text) guessReuse = "until-lifetime";
      }
      startHr = process.hrtime.bigint();
      void replay(sink).finally(async () => {
        await reader?.return(undefined);
        finished();
      });
    },
    counters: () => ({ ...counters }),
    nowNs: () => clock(),
    originUs: () => originUs,
    guessReuse: () => guessReuse,
    async stop() {
      abort.abort();
      if (reader !== null) await done;
    },
  };
}
