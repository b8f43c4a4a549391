// The session's capture log as the kernel wrote it: the raw record batches the reader handed over
// (kept as they came, no copy, no per-event object), the newest kept past a bound in records, oldest
// batches dropping off whole. A download decodes them again, batch by batch, as it goes. Objects for
// 150,000 events held about 200 MB of heap that every garbage collection walked; these bytes are 256
// a record, in a few hundred buffers.
import type { RawEvent } from "../../shared/types.ts";

interface Batch {
  bytes: ArrayBuffer;
  records: number;
}

export interface RawLogView {
  size: number;
  dropped: number;
  batches: readonly ArrayBuffer[];
}

export class RawRecordLog {
  private batches: Batch[] = [];
  private head = 0;
  private kept = 0;
  /** records that fell off the front */
  dropped = 0;

  constructor(readonly capacity: number) {
    if (!(capacity >= 1)) throw new Error("capture log capacity must be at least 1");
  }

  get size(): number {
    return this.kept;
  }

  /** A batch that was decoded and handed to the pipeline (shed ones are not: they were never correlated). */
  add(bytes: ArrayBuffer, records: number): void {
    if (records === 0) return;
    this.batches.push({ bytes, records });
    this.kept += records;
    // Whole batches leave while the rest still hold the capacity.
    for (let first = this.batches[this.head]; first && this.kept - first.records >= this.capacity; first = this.batches[this.head]) {
      this.kept -= first.records;
      this.dropped += first.records;
      this.head++;
    }
    if (this.head > 1024 && this.head * 2 > this.batches.length) {
      this.batches = this.batches.slice(this.head);
      this.head = 0;
    }
  }

  /** The log as it is now: later batches are not in it; a view keeps its batches readable. */
  view(): RawLogView {
    return { size: this.kept, dropped: this.dropped, batches: this.batches.slice(this.head).map((b) => b.bytes) };
  }
}

/** A view's events, decoded one batch at a time by `decode` (a decoder of its own, not the live one's). */
export function* rawLogEvents(view: RawLogView, decode: (bytes: ArrayBuffer) => RawEvent[]): Generator<RawEvent[]> {
  for (const bytes of view.batches) yield decode(bytes);
}
