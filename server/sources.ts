// Which capture source a command gets. `auto` tries the candidates in order and says why each one it
// skips could not start; the first that starts is the source.
import { oneLine } from "../shared/shown.ts";
import type { SourceSpec } from "./args.ts";
import { fileURLToPath } from "node:url";
import { createFileSource } from "./capture/file.ts";
import { createTracefsSource, removeStaleInstances } from "./capture/tracefs.ts";
import type { CaptureFilter, CaptureSource, EventSink, IntakeControl } from "./capture/source.ts";

export interface Candidate {
  name: string;
  create(): Promise<CaptureSource>;
}

/** Thrown by start() when the user asked for something that cannot work here: exit status 2. */
export class BadInputError extends Error {}

/**
 * The dashboard's reader: rings of 16 MiB in all (32,768 records a CPU on two CPUs), a read-ahead of
 * 2 MiB. Once a quarter of a CPU's ring waits unread (correlation is behind: a burst the ring can
 * hold is read whole), the kernel samples heavy flows, one in N of their exchanges followed whole,
 * and keeps following light ones: someone's own pings amid another team's flood. Past midway from
 * there to full (correlation has stalled: a page loading on a busy machine) no heavy flow is
 * followed, so the ring fills only with the light ones; records that waited 750 ms are let go past
 * midway from that to full, so that what is shown is within the contract's second. What waits to be
 * shown under a flood is the quarter ring and the read-ahead (`bench/soak.ts 30`: one's own pings
 * shown after 222–316 ms, median; with rings twice as large, 321–478 ms; with those and sampling at
 * half a ring and 4 MiB, 550–710 ms), and the rings are resident whole, for a quarter used (29 MiB
 * at 65,536 records a CPU; `serve` under 15 s of `ping -f`, no browser: peak RSS 280–283 MiB, with
 * those 293–294).
 * `trace` and `record` keep what the rings hold (8 MiB ahead) and sample nothing.
 */
const SERVE_READER = { staleMs: 750, maxInflightKiB: 2 * 1024, sampleFill: 0.25, ringBudgetMiB: 16 } as const;

function ebpf(filter: CaptureFilter, forServe = false): Candidate {
  return {
    name: "ebpf",
    // Imported on demand: only the eBPF source loads the FFI.
    create: async () => (await import("./capture/ebpf.ts")).createEbpfSource(filter, forServe ? SERVE_READER : {}),
  };
}

/** Reads every packet's hops but no headers: the Correlator pairs nothing without IPs, so it is a fallback. */
const tracefs: Candidate = {
  name: "tracefs",
  create: async () => createTracefsSource(),
};

/** The bundled demo: a real eBPF capture (server/demo/record: test/fixtures/record-ebpf.sh demo), looped at its pace. */
export const DEMO_CAPTURE = fileURLToPath(new URL("./demo/capture.ndjson", import.meta.url));

const demo: Candidate = {
  name: "demo",
  create: async () => createFileSource(DEMO_CAPTURE, { loop: true, name: "demo" }),
};

/** Live capture candidates, best first; `only` narrows them to one. */
export function liveCandidates(filter: CaptureFilter, only: "auto" | "ebpf" | "tracefs" = "auto", forServe = false): Candidate[] {
  const all = [ebpf(filter, forServe), tracefs];
  return only === "auto" ? all : all.filter((c) => c.name === only);
}

/** What `serve` tries by default: live capture, else the demo, so the dashboard always opens. */
export function serveCandidates(filter: CaptureFilter): Candidate[] {
  return [...liveCandidates(filter, "auto", true), demo];
}

/**
 * A source that, on start(), starts the first candidate that works. `onSkip` hears about each one
 * that failed; start() rejects with every reason when none works.
 */
export function firstAvailable(candidates: Candidate[], onSkip: (name: string, why: string) => void): CaptureSource {
  let chosen: CaptureSource | null = null;
  let startedHr = process.hrtime.bigint();
  return {
    get name() {
      return chosen?.name ?? candidates.map((c) => c.name).join("|");
    },
    // Live only once a source started: its programs attached and its reader running. Before, a
    // script told "live" sent an echo that nothing was there to see.
    get live() {
      return chosen?.live ?? false;
    },
    get warnings() {
      return chosen?.warnings ?? [];
    },
    async start(sink: EventSink, intake?: IntakeControl) {
      await removeStaleInstances();
      const reasons: string[] = [];
      for (const c of candidates) {
        try {
          const source = await c.create();
          await source.start(sink, intake);
          chosen = source;
          startedHr = process.hrtime.bigint();
          return;
        } catch (e) {
          const why = e instanceof Error ? e.message : String(e);
          reasons.push(`${c.name}: ${why}`);
          onSkip(c.name, why);
        }
      }
      throw new Error(`no capture source could start (${reasons.join("; ")})`);
    },
    counters: () => chosen?.counters() ?? { events: 0, lost: 0 },
    originUs: () => chosen?.originUs?.(),
    async setFilter(program) {
      if (!chosen?.setFilter) throw new Error(`the ${chosen?.name ?? "capture"} source has no kernel filter to change`);
      await chosen.setFilter(program);
    },
    guessReuse: () => chosen?.guessReuse?.() ?? "never",
    // A source without its own clock counts from the moment it was ready, as the Pipeline would.
    nowNs: () => chosen?.nowNs?.() ?? Number(process.hrtime.bigint() - startedHr),
    stop: async () => chosen?.stop(),
  };
}

/** The source for `serve --source …`. */
export function sourceFor(spec: SourceSpec, filter: CaptureFilter, onSkip: (name: string, why: string) => void,
  pace = false): CaptureSource {
  if (typeof spec === "object") return fileSource(spec.file, pace);
  switch (spec) {
    case "auto":
      return firstAvailable(serveCandidates(filter), onSkip);
    case "demo":
      return firstAvailable([demo], onSkip);
    case "ebpf":
      return firstAvailable([ebpf(filter, true)], onSkip);
    case "tracefs":
      return firstAvailable([tracefs], onSkip);
  }
}

/** A capture file whose bad header makes start() fail as bad input. */
function fileSource(path: string, pace: boolean): CaptureSource {
  // Read as fast as it parses unless asked to pace: an incident review wants the whole capture at once.
  const inner = createFileSource(path, { speed: pace ? 1 : Infinity, onError: (message) => process.stderr.write(`pktpath: ${oneLine(message)}\n`) });
  return {
    name: inner.name,
    live: inner.live,
    start: async (sink) => {
      await removeStaleInstances();
      return inner.start(sink).catch((e: unknown) => {
        throw new BadInputError(e instanceof Error ? e.message : String(e));
      });
    },
    counters: () => inner.counters(),
    nowNs: () => inner.nowNs?.() ?? 0,
    originUs: () => inner.originUs?.(),
    guessReuse: () => inner.guessReuse?.() ?? "never",
    stop: () => inner.stop(),
  };
}
