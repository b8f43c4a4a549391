// Network namespace inode → a name people recognise: the `ip netns` name, "host" for the init netns,
// else a process living in it ("pid 123 comm"). All lookups are async reads of /run/netns and /proc.
import { readdir, readFile, readlink, stat } from "node:fs/promises";

export interface NetnsNamerOptions {
  /** where `ip netns` keeps its bind mounts */
  netnsDir?: string;
  procDir?: string;
  /** at most one refresh per interval when an unknown inode shows up */
  minRefreshMs?: number;
  /** names older than this are refreshed in the background: a freed inode number can be reused */
  maxAgeMs?: number;
}

/** nsfs links read `net:[4026531840]`. */
function inodeOfLink(link: string): number | undefined {
  const m = /^net:\[(\d+)\]$/.exec(link);
  return m ? Number(m[1]) : undefined;
}

async function settle<T>(p: Promise<T>): Promise<T | undefined> {
  try {
    return await p;
  } catch {
    return undefined;
  }
}

/** Runs `f` over `items` with at most `limit` in flight, so a large /proc does not open thousands of fds. */
async function eachLimited<T>(items: T[], limit: number, f: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const item = items[next++] as T;
      await f(item);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}

export class NetnsNamer {
  private names = new Map<number, string>();
  private lastRefreshMs = -Infinity;
  private refreshing: Promise<void> | null = null;
  private readonly netnsDir: string;
  private readonly procDir: string;
  private readonly minRefreshMs: number;
  private readonly maxAgeMs: number;

  constructor(opts: NetnsNamerOptions = {}) {
    this.netnsDir = opts.netnsDir ?? "/run/netns";
    this.procDir = opts.procDir ?? "/proc";
    this.minRefreshMs = opts.minRefreshMs ?? 1000;
    this.maxAgeMs = opts.maxAgeMs ?? 5000;
  }

  /** The cached name, without I/O. */
  lookup(inode: number): string | undefined {
    return this.names.get(inode);
  }

  /**
   * Names for these inodes: waits for a refresh when one is unknown and the last refresh is over
   * minRefreshMs old; refreshes stale names in the background otherwise.
   */
  async resolve(inodes: Iterable<number>): Promise<void> {
    const ageMs = performance.now() - this.lastRefreshMs;
    let unknown = false;
    for (const ino of inodes) if (!this.names.has(ino)) unknown = true;
    if (unknown && ageMs >= this.minRefreshMs) return this.refresh();
    if (ageMs >= this.maxAgeMs) void this.refresh();
  }

  /** Rebuilds the whole map; concurrent callers share one refresh. */
  refresh(): Promise<void> {
    if (this.refreshing === null) {
      this.lastRefreshMs = performance.now();
      this.refreshing = this.scan().then((names) => {
        this.names = names;
      }).finally(() => {
        this.refreshing = null;
      });
    }
    return this.refreshing;
  }

  private async scan(): Promise<Map<number, string>> {
    const names = new Map<number, string>();
    const netns = (await settle(readdir(this.netnsDir))) ?? [];
    for (const name of netns.sort()) {
      const st = await settle(stat(`${this.netnsDir}/${name}`));
      if (st !== undefined && !names.has(st.ino)) names.set(st.ino, name);
    }
    const init = await this.initNetns();
    if (init !== undefined && !names.has(init)) names.set(init, "host");
    await this.scanProcesses(names);
    return names;
  }

  /**
   * The init netns: pid 1's, or, where pid 1's link is unreadable (some sandboxes refuse it), that of
   * kthreadd, since kernel threads always live in the init netns.
   */
  private async initNetns(): Promise<number | undefined> {
    const viaInit = inodeOfLink((await settle(readlink(`${this.procDir}/1/ns/net`))) ?? "");
    if (viaInit !== undefined) return viaInit;
    const comm = ((await settle(readFile(`${this.procDir}/2/comm`, "utf8"))) ?? "").trim();
    if (comm !== "kthreadd") return undefined;
    return inodeOfLink((await settle(readlink(`${this.procDir}/2/ns/net`))) ?? "");
  }

  /** Names each still-unnamed netns after its lowest pid: the one most likely to be its creator. */
  private async scanProcesses(names: Map<number, string>): Promise<void> {
    const entries = (await settle(readdir(this.procDir))) ?? [];
    const pids = entries.filter((e) => /^\d+$/.test(e)).map(Number).sort((a, b) => a - b);
    const firstPid = new Map<number, number>();
    await eachLimited(pids, 32, async (pid) => {
      const ino = inodeOfLink((await settle(readlink(`${this.procDir}/${pid}/ns/net`))) ?? "");
      if (ino === undefined || names.has(ino)) return;
      const seen = firstPid.get(ino);
      if (seen === undefined || pid < seen) firstPid.set(ino, pid);
    });
    await eachLimited([...firstPid], 32, async ([ino, pid]) => {
      const comm = ((await settle(readFile(`${this.procDir}/${pid}/comm`, "utf8"))) ?? "").trim();
      names.set(ino, comm === "" ? `pid ${pid}` : `pid ${pid} ${comm}`);
    });
  }
}
