// What every capture source (eBPF, tracefs, a capture file, the demo) offers the server and the CLI.
import type { RawEvent } from "../../shared/types.ts";

export interface CaptureFilter {
  /** "icmp-echo" (default), "any" IP packet, or one IP protocol */
  proto: "icmp-echo" | "any" | "tcp" | "udp" | "icmp";
  /** only packets with this address as source or destination */
  host?: string;
  /** only TCP/UDP packets with this port as source or destination */
  port?: number;
}

export const DEFAULT_FILTER: CaptureFilter = { proto: "icmp-echo" };

export interface SourceCounters {
  /** events handed to the sink */
  events: number;
  /** events the kernel dropped before we could read them */
  lost: number;
}

export interface CaptureSource {
  /** "ebpf", "tracefs", "demo" or a file path: what /api/health reports */
  readonly name: string;
  readonly live: boolean;
  /** Starts delivering batches of events in time order; resolves once the source is ready. */
  start(sink: (events: RawEvent[]) => void): Promise<void>;
  counters(): SourceCounters;
  /** After start(): what the user should know about how this source runs (a missing tracepoint...). */
  readonly warnings?: readonly string[];
  /** Live sources: the present moment on the tNs timeline, so idle journeys and pings can time out. */
  nowNs?(): number;
  /** tNs 0 in µs since the Unix epoch, once the source knows it (it may change when clocks drift apart). */
  originUs?(): number | undefined;
  /** Detaches everything; safe to call twice. Resolves when the last batch has been delivered. */
  stop(): Promise<void>;
}
