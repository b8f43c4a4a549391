// What every capture source (eBPF, tracefs, a capture file, the demo) offers the server and the CLI.
import { defaultProgram, type FilterProgram } from "../../shared/filter/index.ts";
import type { ReuseGuess } from "../../shared/journeys.ts";
import type { RawEvent } from "../../shared/types.ts";

/** What a live source captures: FILTER and the --proto/--host/--port shorthands, compiled (shared/filter). */
export interface CaptureFilter {
  /** the canonical pcap-filter text; "" for the default (ICMP/ICMPv6 echoes and the ICMP errors about them) */
  expression: string;
  /** the instruction table for the kernel (struct pktpath_filter; encodeProgram gives its bytes) */
  program: FilterProgram;
}

export const DEFAULT_FILTER: CaptureFilter = { expression: "", program: defaultProgram() };

export interface SourceCounters {
  /** events handed to the sink */
  events: number;
  /** records the kernel made and could not store (its ring was full): never read */
  lost: number;
  /** records read that did not decode: never handed to the sink */
  malformed?: number;
  /** records let go unread because correlation was behind (they had waited too long in the ring): never handed to the sink */
  discarded?: number;
  /**
   * tracked skbs the kernel's table evicted for another one: their later hops were never recorded.
   * Not records, so neither in events nor in lost; the journeys they cut short end as idle.
   */
  collisions?: number;
  /**
   * packets the filter took that the kernel did not follow, its ring being crowded and their flow
   * heavy (serve samples so under a flood): never begun, so no records of theirs are in events or lost
   */
  sampled?: number;
}

/**
 * What a source may ask before it decodes a batch: whether the pipeline would take that many events.
 * A batch that would be dropped at the queue bound anyway is then not decoded at all, so that under a
 * flood the thread's time goes to correlating what it keeps, not to decoding what it drops.
 */
export interface IntakeControl {
  fits(events: number): boolean;
  /** records read and not decoded because fits() said no (lost at the queue bound), and when they were made */
  shed(records: number, span?: { fromNs: number; toNs: number }): void;
}

/**
 * Where a source hands its batches. `release`, when the source passes it, is called once the batch
 * has been correlated (or dropped): a live reader reads ahead only that far, so a flood waits in the
 * kernel's ring (and is lost there, counted, when it is full) rather than in memory, decoded.
 */
/**
 * A batch of records as the source read them, and how to make them its events again (the same ones,
 * in the same order, as the source made when it read them).
 */
export interface RawBatch {
  readonly bytes: ArrayBuffer;
  decode(bytes: ArrayBuffer): RawEvent[];
}

/** `raw`: the records the events were made from, when the source can make them again (the capture log keeps those). */
export type EventSink = (events: RawEvent[], release?: () => void, raw?: RawBatch) => void;

export interface CaptureSource {
  /** "ebpf", "tracefs", "demo" or a file path: what /api/health reports */
  readonly name: string;
  readonly live: boolean;
  /** Starts delivering batches of events in time order; resolves once the source is ready. */
  start(sink: EventSink, intake?: IntakeControl): Promise<void>;
  counters(): SourceCounters;
  /** After start(): what the user should know about how this source runs (a missing tracepoint...). */
  readonly warnings?: readonly string[];
  /** Live sources: the present moment on the tNs timeline, so idle journeys and pings can time out. */
  nowNs?(): number;
  /** tNs 0 in µs since the Unix epoch, once the source knows it (it may change when clocks drift apart). */
  originUs?(): number | undefined;
  /** Live sources with a kernel filter: switch to this program at once, nothing reloaded. */
  setFilter?(program: FilterProgram): Promise<void>;
  /** After start(): whether the source's lifetime events can be relied on (a text file may lack them). */
  guessReuse?(): ReuseGuess;
  /** Detaches everything; safe to call twice. Resolves when the last batch has been delivered. */
  stop(): Promise<void>;
}
