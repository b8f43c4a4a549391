// A runtime's event stream kept open for the life of the namer: read line by line, and opened again
// a while after it ends (the daemon restarted, a log rotated), with a refresh meanwhile, since events
// may have been missed.

export interface EventStream {
  close(): void;
}

/**
 * Starts one stream: calls `onLine` per line and `onEnd` once when it ends; `onEnd(true)` when it can
 * never work here (no such program), so it is not tried again.
 */
export type OpenEventStream = (onLine: (line: string) => void, onEnd: (forever?: boolean) => void) => EventStream;

/** Chunks of text in, whole lines out (the last, unfinished one is held back). */
export function lineReader(onLine: (line: string) => void): (chunk: string) => void {
  let pending = "";
  return (chunk) => {
    pending += chunk;
    const lines = pending.split("\n");
    pending = lines.pop() ?? "";
    for (const line of lines) if (line.trim() !== "") onLine(line);
  };
}

/** Keeps `open`'s stream going until the returned function is called. */
export function keepListening(open: OpenEventStream, onLine: (line: string) => void, onChange: () => void, retryMs = 5000): () => void {
  let closed = false;
  let current: EventStream | undefined;
  let retry: NodeJS.Timeout | undefined;
  const start = () => {
    if (closed) return;
    let ended = false;
    current = open(onLine, (forever = false) => {
      if (ended) return;
      ended = true;
      current = undefined;
      if (forever) closed = true;
      if (closed || retry !== undefined) return;
      retry = setTimeout(() => {
        retry = undefined;
        onChange();
        start();
      }, retryMs);
      retry.unref();
    });
  };
  start();
  return () => {
    closed = true;
    clearTimeout(retry);
    current?.close();
  };
}
