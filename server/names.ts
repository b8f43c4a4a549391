// Network namespace inode → a name people recognise, the most specific known: "host" for the init
// netns, the container or pod in it ("pod default/checkout-7d9f (container app)", "docker web-1",
// "podman db"), the `ip netns` name, else a process living in it ("pid 123 comm"). All lookups are
// async: reads of /run/netns and /proc, and the container runtimes' own APIs (server/runtimes/).
import { readdir, readFile, readlink, stat } from "node:fs/promises";
import { ContainerNames, defaultRuntimes, type ContainerNamesOptions } from "./runtimes/containerNames.ts";
import type { Runtime } from "./runtimes/runtime.ts";
import { formatNetnsOwner } from "../shared/netnsNames.ts";
import { mapLimited, netnsInodeOfLink, settle } from "./procfs.ts";

const HOST = formatNetnsOwner({ kind: "host" });

export interface NetnsNamerOptions {
  /** where `ip netns` keeps its bind mounts */
  netnsDir?: string;
  procDir?: string;
  /** at most one refresh per interval when an unknown inode shows up */
  minRefreshMs?: number;
  /** names older than this are refreshed in the background: a freed inode number can be reused */
  maxAgeMs?: number;
  /** the container runtimes to ask; all the usual ones by default, none with [] */
  runtimes?: Runtime[];
  /** how long a refresh waits for the runtimes before going on with what it has */
  runtimeWaitMs?: number;
  /** how long a namespace that went away keeps its name, for its last packets still on their way */
  graceMs?: number;
  /** how often runtimes without events are asked again */
  pollMs?: number;
  onWarning?: (line: string) => void;
}

/**
 * Names with a memory: a name that leaves the table is kept for a grace period, for events still
 * queued from a namespace that has just gone. Such a name never hides a current one, since the kernel
 * hands a freed inode number to the next namespace made.
 */
class NameTable {
  private current = new Map<number, string>();
  private gone = new Map<number, { name: string; untilMs: number }>();

  constructor(private readonly graceMs: number) {}

  replace(next: Map<number, string>, nowMs: number): void {
    for (const [ino, name] of this.current) {
      if (!next.has(ino)) this.gone.set(ino, { name, untilMs: nowMs + this.graceMs });
    }
    for (const [ino, g] of this.gone) if (next.has(ino) || g.untilMs <= nowMs) this.gone.delete(ino);
    this.current = next;
  }

  has(ino: number): boolean {
    return this.current.has(ino);
  }

  get(ino: number): string | undefined {
    return this.current.get(ino);
  }

  remembered(ino: number, nowMs: number): string | undefined {
    const g = this.gone.get(ino);
    return g !== undefined && g.untilMs > nowMs ? g.name : undefined;
  }
}

/** Names container runtimes give the namespaces they bind under /run/netns (Podman, CNI plugins). */
const RUNTIME_MADE = /^(netns|cni)-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

export class NetnsNamer {
  /** `ip netns` names, "host", and the process fallback, from the last scan of /run/netns and /proc */
  private readonly scanned: NameTable;
  /** containers and pods, as the runtimes last answered */
  private readonly containerNames: NameTable;
  private readonly containers: ContainerNames;
  private hostInode: number | undefined;
  private lastRefreshMs = -Infinity;
  private refreshing: Promise<void> | null = null;
  private readonly netnsDir: string;
  private readonly procDir: string;
  private readonly minRefreshMs: number;
  private readonly maxAgeMs: number;
  private readonly runtimeWaitMs: number;

  constructor(opts: NetnsNamerOptions = {}) {
    this.netnsDir = opts.netnsDir ?? "/run/netns";
    this.procDir = opts.procDir ?? "/proc";
    this.minRefreshMs = opts.minRefreshMs ?? 1000;
    this.maxAgeMs = opts.maxAgeMs ?? 5000;
    this.runtimeWaitMs = opts.runtimeWaitMs ?? 1500;
    const graceMs = opts.graceMs ?? 60_000;
    this.scanned = new NameTable(graceMs);
    this.containerNames = new NameTable(graceMs);
    const containerOpts: ContainerNamesOptions = {
      procDir: this.procDir,
      onLabels: (labels) => this.containerNames.replace(labels, performance.now()),
    };
    if (opts.pollMs !== undefined) containerOpts.pollMs = opts.pollMs;
    if (opts.onWarning !== undefined) containerOpts.onWarning = opts.onWarning;
    // The runtimes' sockets and state are root's: without root there are no container names to ask
    // for (and no live capture to name), and asking would only print their refusals.
    const runtimes = opts.runtimes ?? (process.getuid?.() === 0 ? defaultRuntimes() : []);
    this.containers = new ContainerNames(runtimes, containerOpts);
  }

  /**
   * The cached name, without I/O. The init netns is "host" even where a container shares it
   * (`--network host`, a hostNetwork pod); a container outranks the `ip netns` name its runtime gave
   * the namespace ("cni-…", "netns-…"), which outranks the process fallback.
   */
  lookup(inode: number): string | undefined {
    if (inode === this.hostInode) return HOST;
    const current = this.containerNames.get(inode) ?? this.scanned.get(inode);
    if (current !== undefined) return current;
    const nowMs = performance.now();
    return this.containerNames.remembered(inode, nowMs) ?? this.scanned.remembered(inode, nowMs);
  }

  /**
   * Names for these inodes: waits for a refresh when one is unknown (or known only as a namespace
   * that went away) and the last refresh is over minRefreshMs old; refreshes stale names in the
   * background otherwise.
   */
  async resolve(inodes: Iterable<number>): Promise<void> {
    const ageMs = performance.now() - this.lastRefreshMs;
    let unknown = false;
    for (const ino of inodes) {
      if (ino === this.hostInode || this.containerNames.has(ino)) continue;
      // A namespace known only by the name a runtime gave it under /run/netns ("netns-<uuid>" from
      // Podman, "cni-<uuid>" from CNI) is a container whose runtime has not been heard from yet.
      const scanned = this.scanned.get(ino);
      if (scanned === undefined || RUNTIME_MADE.test(scanned)) unknown = true;
    }
    if (unknown && ageMs >= this.minRefreshMs) return this.refresh();
    // Stale names only: the runtimes announce their changes or are polled, so are not asked again.
    if (ageMs >= this.maxAgeMs) void this.refresh(false);
  }

  /**
   * Rescans /run/netns and /proc and asks the runtimes; concurrent callers share one refresh. A slow
   * runtime is waited for at most runtimeWaitMs: its answer lands when it comes.
   */
  refresh(askRuntimes = true): Promise<void> {
    if (this.refreshing === null) {
      this.lastRefreshMs = performance.now();
      this.containers.start();
      const runtimes = askRuntimes ? this.containers.refresh() : Promise.resolve();
      let timer: NodeJS.Timeout | undefined;
      const waited = Promise.race([runtimes, new Promise<void>((r) => (timer = setTimeout(r, this.runtimeWaitMs)))]);
      this.refreshing = Promise.all([this.scan(), waited]).then(([names]) => {
        this.scanned.replace(names, performance.now());
      }).finally(() => {
        clearTimeout(timer);
        this.refreshing = null;
      });
    }
    return this.refreshing;
  }

  /** Stops listening to the runtimes. */
  close(): void {
    this.containers.close();
  }

  private async scan(): Promise<Map<number, string>> {
    const names = new Map<number, string>();
    const netns = (await settle(readdir(this.netnsDir))) ?? [];
    for (const name of netns.sort()) {
      const st = await settle(stat(`${this.netnsDir}/${name}`));
      if (st !== undefined && !names.has(st.ino)) names.set(st.ino, name);
    }
    const init = await this.initNetns();
    if (init !== undefined) {
      this.hostInode = init;
      names.set(init, HOST);
    }
    await this.scanProcesses(names);
    return names;
  }

  /**
   * The init netns: pid 1's, or, where pid 1's link is unreadable (some sandboxes refuse it), that of
   * kthreadd, since kernel threads always live in the init netns.
   */
  private async initNetns(): Promise<number | undefined> {
    const viaInit = netnsInodeOfLink(await settle(readlink(`${this.procDir}/1/ns/net`)));
    if (viaInit !== undefined) return viaInit;
    const comm = ((await settle(readFile(`${this.procDir}/2/comm`, "utf8"))) ?? "").trim();
    if (comm !== "kthreadd") return undefined;
    return netnsInodeOfLink(await settle(readlink(`${this.procDir}/2/ns/net`)));
  }

  /** Names each still-unnamed netns after its lowest pid: the one most likely to be its creator. */
  private async scanProcesses(names: Map<number, string>): Promise<void> {
    const entries = (await settle(readdir(this.procDir))) ?? [];
    const pids = entries.filter((e) => /^\d+$/.test(e)).map(Number).sort((a, b) => a - b);
    const firstPid = new Map<number, number>();
    await mapLimited(pids, 32, async (pid) => {
      const ino = netnsInodeOfLink(await settle(readlink(`${this.procDir}/${pid}/ns/net`)));
      if (ino === undefined || names.has(ino)) return;
      const seen = firstPid.get(ino);
      if (seen === undefined || pid < seen) firstPid.set(ino, pid);
    });
    await mapLimited([...firstPid], 32, async ([ino, pid]) => {
      const comm = ((await settle(readFile(`${this.procDir}/${pid}/comm`, "utf8"))) ?? "").trim();
      names.set(ino, formatNetnsOwner({ kind: "process", pid, comm }));
    });
  }
}
