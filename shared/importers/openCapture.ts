// A whole capture into journeys and pings, from lines that arrive asynchronously: the dashboard's
// "Open capture…" (a browser File read as a stream), also usable from Node. Pure: the caller decides
// how to yield to its event loop through onProgress, which is awaited.
import { Correlator, idPrefixFor, type CorrelatorOptions, type CorrelatorOutput } from "../correlate.ts";
import { err, ok, type Result } from "../result.ts";
import type { Exchange, Journey, Ping } from "../types.ts";
import { parseIsoMicros } from "../wallclock.ts";
import { CaptureLineReader, type CaptureFormat, type CaptureHeader, type CaptureItem } from "./captureReader.ts";

export interface OpenCaptureOptions {
  format?: CaptureFormat;
  reasonName?: (value: number) => string | undefined;
  correlator?: CorrelatorOptions;
  /** called (and awaited) every progressEveryLines lines: where a page redraws and yields */
  onProgress?: (progress: OpenProgress) => void | Promise<void>;
  progressEveryLines?: number;
}

export interface OpenProgress {
  lines: number;
  events: number;
  pings: number;
}

export interface OpenedCapture {
  header: CaptureHeader;
  /** in the order they ended */
  journeys: Journey[];
  /** in the order they became final */
  exchanges: Exchange[];
  /** the icmp-echo exchanges */
  pings: Ping[];
  events: number;
  lines: number;
}

const DEFAULT_PROGRESS_EVERY = 4096;

/** Reads every line, correlates as it goes; the first bad line ends it with `LINE: what`. */
export async function openCapture(lines: AsyncIterable<string>, opts: OpenCaptureOptions = {}): Promise<Result<OpenedCapture>> {
  const reader = new CaptureLineReader(opts.format ?? "auto", opts.reasonName);
  // Made at the header, which comes first and says how the capture is to be read.
  let correlator: Correlator | undefined;
  const every = Math.max(1, opts.progressEveryLines ?? DEFAULT_PROGRESS_EVERY);
  const out: OpenedCapture = { header: { pktpath: "capture", version: 1, source: "", kernel: "", startedAt: "" },
    journeys: [], exchanges: [], pings: [], events: 0, lines: 0 };
  const take = (items: CaptureItem[]): void => {
    for (const item of items) {
      if (item.kind === "header") {
        out.header = item.header;
        correlator ??= new Correlator({ ...correlatorOptionsFor(item), ...opts.correlator });
        continue;
      }
      out.events++;
      correlator ??= new Correlator(opts.correlator);
      collect(out, correlator.push(item.event));
    }
  };
  for await (const text of lines) {
    const items = reader.line(text);
    if (!items.ok) return items;
    take(items.value);
    if (reader.lineNo % every === 0) await opts.onProgress?.({ lines: reader.lineNo, events: out.events, pings: out.pings.length });
  }
  const rest = reader.end();
  if (!rest.ok) return err(rest.error);
  take(rest.value);
  if (correlator) collect(out, correlator.flush());
  out.lines = reader.lineNo;
  return ok(out);
}

/** What a capture's header tells its correlator: when tNs 0 was, and whether lifetime events can be relied on. */
export function correlatorOptionsFor(item: CaptureItem & { kind: "header" }): CorrelatorOptions {
  const opts: CorrelatorOptions = {};
  const origin = parseIsoMicros(item.header.startedAt);
  if (origin !== undefined) {
    opts.originUs = origin;
    // the ids the dashboard that recorded it showed
    opts.idPrefix = idPrefixFor(origin);
  }
  if (item.text) opts.guessReuse = "until-lifetime";
  return opts;
}

/** No spread: one call can hand back more items than an argument list holds. */
function collect(into: OpenedCapture, o: CorrelatorOutput): void {
  for (const j of o.journeys) into.journeys.push(j);
  for (const x of o.exchanges) into.exchanges.push(x);
  for (const p of o.pings) into.pings.push(p);
}

export { splitLines } from "./lineSplitter.ts";
