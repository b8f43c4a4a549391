// A capture read line by line, whatever reads the lines: the CLI (a file through readline) and the
// dashboard (a browser File through its stream). The pktpath format is a header line then one RawEvent
// per line (JSON); other tools' text captures get a header naming their layout. Errors are values
// `LINE: what`; the caller puts the file's name in front.
import { err, ok, type Result } from "../result.ts";
import type { RawEvent } from "../types.ts";
import { isObject, parseRawEvent } from "../validate.ts";
import { TextCaptureReader } from "./textCapture.ts";
import type { TextFormat } from "./textLine.ts";

export interface CaptureHeader {
  pktpath: "capture";
  version: 1;
  source: string;
  kernel: string;
  startedAt: string;
}

/** `text`: the header was made for another tool's text capture, which may lack lifetime events. */
export type CaptureItem = { kind: "header"; header: CaptureHeader; text?: true } | { kind: "event"; event: RawEvent };

/** Text layouts of other tools; the pktpath format is JSON. */
export type CaptureFormat = "auto" | "pktpath" | TextFormat;

/** A longer line is refused before JSON.parse: no event comes near it. */
export const MAX_LINE_CHARS = 64 * 1024;

const EMPTY = "empty file (expected a pktpath capture header)";
const UNREADABLE = "not a capture pktpath can read (expected a pktpath capture, perf trace, perf script or tracefs text)";

export function parseHeader(v: unknown): Result<CaptureHeader> {
  if (!isObject(v) || v.pktpath !== "capture") return err('not a pktpath capture (line 1 must be {"pktpath":"capture",...})');
  if (v.version !== 1) return err(`unsupported capture version ${JSON.stringify(v.version)} (expected 1)`);
  for (const key of ["source", "kernel", "startedAt"] as const) {
    if (typeof v[key] !== "string") return err(`header.${key}: expected a string`);
  }
  return ok({ pktpath: "capture", version: 1, source: String(v.source), kernel: String(v.kernel),
    startedAt: String(v.startedAt) });
}

interface LineParser {
  line(text: string): Result<CaptureItem[]>;
  /** after the last line: what is still held, or why the input as a whole is not a capture */
  end(): Result<CaptureItem[]>;
}

type ReasonName = (value: number) => string | undefined;

/**
 * Feed it every line in order (blank ones too: they count), then call end(). `auto` tells JSON from
 * text by the first line that is not blank.
 */
export class CaptureLineReader {
  private parser: LineParser | null;
  /** lines fed so far: the number of the last one */
  lineNo = 0;

  constructor(format: CaptureFormat = "auto", private readonly reasonName?: ReasonName) {
    this.parser = format === "auto" ? null : lineParser(format, reasonName);
  }

  line(raw: string): Result<CaptureItem[]> {
    this.lineNo++;
    // Editors on Windows start UTF-8 files with a byte order mark; it is no part of the first line.
    const text = this.lineNo === 1 && raw.startsWith("\uFEFF") ? raw.slice(1) : raw;
    if (text.trim() === "") return ok([]);
    if (text.length > MAX_LINE_CHARS) return err(`${this.lineNo}: line longer than ${MAX_LINE_CHARS} characters`);
    this.parser ??= lineParser(text.trimStart().startsWith("{") ? "pktpath" : "text", this.reasonName);
    const items = this.parser.line(text);
    return items.ok ? items : err(`${this.lineNo}: ${items.error}`);
  }

  end(): Result<CaptureItem[]> {
    const rest = this.parser?.end();
    if (rest !== undefined && rest.ok) return rest;
    const why = rest?.error ?? (this.lineNo === 0 ? EMPTY : UNREADABLE);
    // Input nothing could be read from is wrong from its first line; a cut-off one at its last.
    return err(`${this.lineNo === 0 || why === UNREADABLE ? 1 : this.lineNo}: ${why}`);
  }
}

function lineParser(format: CaptureFormat | "text", reasonName?: ReasonName): LineParser {
  return format === "pktpath" ? jsonLines() : textLines(format === "text" || format === "auto" ? undefined : format, reasonName);
}

function parseJson(text: string): Result<unknown> {
  try {
    return ok(JSON.parse(text));
  } catch {
    return err("not valid JSON");
  }
}

function jsonLines(): LineParser {
  let sawHeader = false;
  return {
    line(text) {
      const json = parseJson(text);
      if (!json.ok) return json;
      if (!sawHeader) {
        sawHeader = true;
        return mapOk(parseHeader(json.value), (header) => [{ kind: "header", header }]);
      }
      return mapOk(parseRawEvent(json.value), (event) => [{ kind: "event", event }]);
    },
    end: () => (sawHeader ? ok([]) : err(EMPTY)),
  };
}

function textLines(format: TextFormat | undefined, reasonName?: ReasonName): LineParser {
  const reader = new TextCaptureReader(format === undefined ? { reasonName } : { format, reasonName });
  let sentHeader = false;
  const withHeader = (events: RawEvent[]): CaptureItem[] => {
    const items: CaptureItem[] = events.map((event) => ({ kind: "event", event }));
    if (sentHeader || reader.detectedFormat === undefined) return items;
    sentHeader = true;
    const header: CaptureHeader = { pktpath: "capture", version: 1, source: reader.detectedFormat, kernel: "", startedAt: "" };
    return [{ kind: "header", header, text: true }, ...items];
  };
  return {
    line: (text) => mapOk(reader.push(text), withHeader),
    end: () => (reader.events === 0 ? err(UNREADABLE) : ok(withHeader(reader.end()))),
  };
}

function mapOk<A, B>(r: Result<A>, f: (a: A) => B): Result<B> {
  return r.ok ? ok(f(r.value)) : r;
}
