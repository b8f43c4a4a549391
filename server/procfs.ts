// Reading /proc and the runtimes without letting one failure stop the rest: a process that exits
// mid-scan, a container removed between two calls.

/** nsfs links read `net:[4026531840]`. */
export function netnsInodeOfLink(link: string | undefined): number | undefined {
  const m = /^net:\[(\d+)\]$/.exec(link ?? "");
  return m ? Number(m[1]) : undefined;
}

/** The value, or undefined where the promise rejects. */
export async function settle<T>(p: Promise<T>): Promise<T | undefined> {
  try {
    return await p;
  } catch {
    return undefined;
  }
}

/** Runs `f` over `items`, at most `limit` at a time, so a large /proc or a host with many containers does not open thousands of fds at once. */
export async function mapLimited<T, U>(items: readonly T[], limit: number, f: (item: T) => Promise<U>): Promise<U[]> {
  const out: U[] = new Array<U>(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await f(items[i] as T);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}
