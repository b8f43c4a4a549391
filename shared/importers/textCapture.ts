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
  /** events not yet released, earliest first out */
  private readonly held = new HeldEvents();
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
    this.held.push(clockNs, ev);
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

  /** The capture starts at the earliest event held when the first one leaves; a later straggler clamps to 0. */
  private release(uptoClockNs: number): RawEvent[] {
    const out: RawEvent[] = [];
    for (let next = this.held.peek(); next !== undefined && next.clockNs <= uptoClockNs; next = this.held.peek()) {
      this.held.pop();
      this.startNs ??= next.clockNs;
      out.push({ ...next.event, tNs: Math.max(0, next.clockNs - this.startNs) });
    }
    return out;
  }
}

interface Held {
  clockNs: number;
  /** arrival order: equal times leave in the order they came */
  seq: number;
  event: RawEvent;
}

/**
 * A binary min-heap by (clockNs, seq): O(log n) in and out, whatever the order events come in. A
 * sorted array walked back one by one made a file whose times go backwards quadratic (29 s for 100 000
 * lines), and one whose times go forwards paid a shift of the whole window for each event let out.
 */
class HeldEvents {
  private readonly heap: Held[] = [];
  private seq = 0;

  push(clockNs: number, event: RawEvent): void {
    const h = this.heap;
    h.push({ clockNs, seq: this.seq++, event });
    for (let i = h.length - 1; i > 0;) {
      const parent = (i - 1) >> 1;
      if (!before(h[i]!, h[parent]!)) break;
      [h[i], h[parent]] = [h[parent]!, h[i]!];
      i = parent;
    }
  }

  peek(): Held | undefined {
    return this.heap[0];
  }

  pop(): void {
    const h = this.heap;
    const last = h.pop();
    if (last === undefined || h.length === 0) return;
    h[0] = last;
    for (let i = 0; ;) {
      const l = 2 * i + 1, r = l + 1;
      let least = i;
      if (l < h.length && before(h[l]!, h[least]!)) least = l;
      if (r < h.length && before(h[r]!, h[least]!)) least = r;
      if (least === i) return;
      [h[i], h[least]] = [h[least]!, h[i]!];
      i = least;
    }
  }
}

function before(a: Held, b: Held): boolean {
  return a.clockNs < b.clockNs || (a.clockNs === b.clockNs && a.seq < b.seq);
}
