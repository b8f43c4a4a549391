// "Open capture…": a capture file read in the browser, never uploaded. The File is read as a stream and
// decoded chunk by chunk, so a large capture is never one giant string; shared/ does the rest.
import { openCapture, splitLines } from "../../shared/importers/openCapture.ts";
import { err, ok, type Result } from "../../shared/result.ts";
import type { Ping } from "../../shared/types.ts";

export interface FileView {
  name: string;
  /** the header's source: ebpf, tracefs, perf-trace, … */
  source: string;
  /** newest first, as the live list */
  pings: Ping[];
  /** the newest of them, what the list shows */
  listed: Ping[];
  journeys: number;
  events: number;
}

export interface FileProgress {
  name: string;
  sizeBytes: number;
  readBytes: number;
  lines: number;
  pings: number;
}

/** The list is virtual, so it can list this many; past it, an opened file lists its newest (all stay counted). */
export const MAX_LISTED_PINGS = 200_000;

/** Lines between redraws: small enough that the page stays responsive on a slow machine. */
const LINES_PER_YIELD = 4096;

async function* decoded(file: File, onBytes: (n: number) => void): AsyncGenerator<string> {
  const reader = file.stream().getReader();
  const decoder = new TextDecoder("utf-8");
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      onBytes(value.byteLength);
      yield decoder.decode(value, { stream: true });
    }
    const tail = decoder.decode();
    if (tail !== "") yield tail;
  } finally {
    // Reading may stop early (a bad line, a cancel): let go of the file.
    await reader.cancel().catch(() => undefined);
  }
}

/** A macrotask, not a microtask: input, painting and the stream get their turn. */
const yieldToPage = (): Promise<void> => new Promise((resolve) => setTimeout(resolve, 0));

class Cancelled extends Error {}

/**
 * Reads, parses and correlates the file; `NAME:LINE: what` for a bad line, as the CLI prints it.
 * Aborting the signal stops at the next yield with an error value "cancelled".
 */
export async function openCaptureFile(file: File, onProgress: (p: FileProgress) => void, signal?: AbortSignal): Promise<Result<FileView>> {
  let readBytes = 0;
  const progress = (lines: number, pings: number): void =>
    onProgress({ name: file.name, sizeBytes: file.size, readBytes, lines, pings });
  progress(0, 0);
  try {
    const opened = await openCapture(splitLines(decoded(file, (n) => (readBytes += n))), {
      progressEveryLines: LINES_PER_YIELD,
      onProgress: async (p) => {
        progress(p.lines, p.pings);
        await yieldToPage();
        if (signal?.aborted) throw new Cancelled();
      },
    });
    if (!opened.ok) return err(`${file.name}:${opened.error}`);
    const { header, pings, journeys, events } = opened.value;
    const newestFirst = pings.reverse();
    return ok({ name: file.name, source: header.source, pings: newestFirst, listed: newestFirst.slice(0, MAX_LISTED_PINGS),
      journeys: journeys.length, events });
  } catch (e) {
    if (e instanceof Cancelled) return err("cancelled");
    return err(`${file.name}: could not read the file: ${e instanceof Error ? e.message : String(e)}`);
  }
}
