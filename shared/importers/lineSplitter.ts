// Text chunks into lines, in bounded memory whatever the input: a line longer than a capture line may
// be is cut just past the limit, so the reader refuses it, and the rest of it is passed over up to its
// newline without being held. Both readers use it: the CLI's (a file) and the page's (a browser File).
import { MAX_LINE_CHARS } from "./captureReader.ts";

export class LineSplitter {
  /** the current line so far: never longer than maxChars + 1 */
  private rest = "";
  /** inside a line already handed out cut: its remainder is dropped up to the next newline */
  private skipping = false;

  constructor(private readonly maxChars = MAX_LINE_CHARS) {}

  /** The lines the chunk completes, without their `\n` or `\r\n`. */
  push(chunk: string): string[] {
    const out: string[] = [];
    let start = 0;
    while (start < chunk.length) {
      const nl = chunk.indexOf("\n", start);
      const end = nl === -1 ? chunk.length : nl;
      if (this.skipping) {
        if (nl === -1) return out;
        this.skipping = false;
      } else if (this.rest.length + (end - start) > this.maxChars + 1) {
        // One character past the limit is enough for the reader to refuse it.
        out.push(this.rest + chunk.slice(start, start + this.maxChars + 1 - this.rest.length));
        this.rest = "";
        this.skipping = nl === -1;
      } else if (nl === -1) {
        this.rest += chunk.slice(start);
      } else {
        out.push(stripCr(this.rest + chunk.slice(start, nl)));
        this.rest = "";
      }
      if (nl === -1) break;
      start = nl + 1;
    }
    return out;
  }

  /** The last line, when the input did not end with a newline. */
  end(): string[] {
    const last = this.skipping || this.rest === "" ? [] : [stripCr(this.rest)];
    this.rest = "";
    this.skipping = false;
    return last;
  }
}

function stripCr(line: string): string {
  return line.endsWith("\r") ? line.slice(0, -1) : line;
}

/** splitLines over an async source of chunks (any split, as a decoder yields them). */
export async function* splitLines(chunks: AsyncIterable<string>, maxChars = MAX_LINE_CHARS): AsyncGenerator<string> {
  const splitter = new LineSplitter(maxChars);
  for await (const chunk of chunks) yield* splitter.push(chunk);
  yield* splitter.end();
}
