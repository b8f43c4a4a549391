// Which capture source a command gets. `auto` tries the candidates in order and says why each one it
// skips could not start; the first that starts is the source.
import type { RawEvent } from "../shared/types.ts";
import type { SourceSpec } from "./args.ts";
import { createFileSource } from "./capture/file.ts";
import type { CaptureFilter, CaptureSource } from "./capture/source.ts";

export interface Candidate {
  name: string;
  create(): Promise<CaptureSource>;
}

/** Thrown by start() when the user asked for something that cannot work here: exit status 2. */
export class BadInputError extends Error {}

function ebpf(filter: CaptureFilter): Candidate {
  return {
    name: "ebpf",
    // Imported on demand: only the eBPF source loads the FFI.
    create: async () => (await import("./capture/ebpf.ts")).createEbpfSource(filter),
  };
}

/** Reads every packet's hops but no headers: the Correlator pairs nothing without IPs, so it is a fallback. */
const tracefs: Candidate = {
  name: "tracefs",
  create: async () => (await import("./capture/tracefs.ts")).createTracefsSource(),
};

/** Live capture candidates, best first. The bundled demo capture of CONTRACT.md goes last, when it exists. */
export function liveCandidates(filter: CaptureFilter): Candidate[] {
  return [ebpf(filter), tracefs];
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
    get live() {
      return chosen?.live ?? true;
    },
    async start(sink: (events: RawEvent[]) => void) {
      const reasons: string[] = [];
      for (const c of candidates) {
        try {
          const source = await c.create();
          await source.start(sink);
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
    // A source without its own clock counts from the moment it was ready, as the Pipeline would.
    nowNs: () => chosen?.nowNs?.() ?? Number(process.hrtime.bigint() - startedHr),
    stop: async () => chosen?.stop(),
  };
}

/** The source for `serve --source …`. */
export function sourceFor(spec: SourceSpec, filter: CaptureFilter, onSkip: (name: string, why: string) => void,
): CaptureSource {
  if (typeof spec === "object") return fileSource(spec.file);
  switch (spec) {
    case "auto":
      return firstAvailable(liveCandidates(filter), onSkip);
    case "ebpf":
      return firstAvailable([ebpf(filter)], onSkip);
    case "tracefs":
      return firstAvailable([tracefs], onSkip);
    default:
      return unsupported(spec);
  }
}

/** A capture file whose bad header makes start() fail as bad input. */
function fileSource(path: string): CaptureSource {
  const inner = createFileSource(path, { onError: (message) => process.stderr.write(`pktpath: ${message}\n`) });
  return {
    name: inner.name,
    live: inner.live,
    start: (sink) => inner.start(sink).catch((e: unknown) => {
      throw new BadInputError(e instanceof Error ? e.message : String(e));
    }),
    counters: () => inner.counters(),
    stop: () => inner.stop(),
  };
}

function unsupported(name: string): CaptureSource {
  return {
    name,
    live: true,
    start: () => Promise.reject(new BadInputError(`--source ${name} is not supported yet (use auto, ebpf or a capture file)`)),
    counters: () => ({ events: 0, lost: 0 }),
    stop: async () => undefined,
  };
}
