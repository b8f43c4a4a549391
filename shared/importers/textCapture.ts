// A text capture read line by line: detects the layout on the first event line, makes timestamps
// relative to the first event, names numeric drop reasons, and restores time order across CPUs.
import { err, ok, type Result } from "../result.ts";
import type { RawEvent } from "../types.ts";
import { detectFormat, parseTextLine, type TextFormat } from "./textLine.ts";

export interface TextCaptureOptions {
  /** forced layout; detected from the first event line when absent */
  format?: TextFormat;
  /** names for numeric kfree_skb reasons (perf trace prints numbers), e.g. from the kernel's BTF */
  reasonName?: (value: number) => string | undefined;
  /** the tool's clock value that is tNs 0; the first event's when absent */
  originNs?: number;
}

/**
 * Per-CPU buffers make tools print events slightly out of order. Events are held until one this much
 * newer arrives, so each batch leaves in time order without reading the whole file first.
 */
const REORDER_WINDOW_NS = 50_000_000;

export class TextCaptureReader {
  private format: TextFormat | undefined;
  private startNs: number | undefined;
  /** events not yet released, sorted by the tool's clock */
  private held: { clockNs: number; event: RawEvent }[] = [];
  /** events recognised so far (lines of other tracepoints do not count) */
  events = 0;

  constructor(private readonly opts: TextCaptureOptions = {}) {
    this.format = opts.format;
    this.startNs = opts.originNs;
  }

  get detectedFormat(): TextFormat | undefined {
    return this.format;
  }

  /** Feeds one line; returns the events now safe to release in time order, or what is wrong with it. */
  push(line: string): Result<RawEvent[]> {
    if (this.format === undefined) {
      const detected = detectFormat(line);
      if (detected === null) return ok([]);
      this.format = detected;
    }
    const parsed = parseTextLine(line, this.format);
    if (!parsed.ok) return err(parsed.error);
    if (parsed.value === null) return ok([]);
    const { clockNs, event } = parsed.value;
    const ev: RawEvent = { ...event, tNs: 0 };
    this.nameReason(ev);
    this.events += 1;
    this.insert(clockNs, ev);
    return ok(this.release(clockNs - REORDER_WINDOW_NS));
  }

  /** End of input: everything held, in time order. */
  end(): RawEvent[] {
    return this.release(Number.POSITIVE_INFINITY);
  }

  private nameReason(ev: RawEvent): void {
    if (ev.dropReason === undefined || !/^\d+$/.test(ev.dropReason)) return;
    const name = this.opts.reasonName?.(Number(ev.dropReason));
    if (name !== undefined) ev.dropReason = name;
  }

  private insert(clockNs: number, event: RawEvent): void {
    let i = this.held.length;
    while (i > 0 && this.held[i - 1]!.clockNs > clockNs) i -= 1;
    this.held.splice(i, 0, { clockNs, event });
  }

  /** The capture starts at the earliest event held when the first one leaves; a later straggler clamps to 0. */
  private release(uptoClockNs: number): RawEvent[] {
    let n = 0;
    while (n < this.held.length && this.held[n]!.clockNs <= uptoClockNs) n += 1;
    if (n === 0) return [];
    this.startNs ??= this.held[0]!.clockNs;
    const start = this.startNs;
    return this.held.splice(0, n).map(({ clockNs, event }) => ({ ...event, tNs: Math.max(0, clockNs - start) }));
  }
}
