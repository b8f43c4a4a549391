// Network namespace inode → the container or pod living in it, from every container runtime on the
// machine. Each runtime is asked again when it announces a start or stop (Docker, Podman) or on a
// short poll (CRI), and whenever the namer meets an inode it does not know.
import { readlink, stat } from "node:fs/promises";
import { CriRuntime, DEFAULT_CRI_SOCKETS } from "./cri.ts";
import { DockerRuntime, defaultDockerSocket } from "./docker.ts";
import { mapLimited, netnsInodeOfLink, settle } from "../procfs.ts";
import { PodmanRuntime } from "./podman.ts";
import { labelOf, type ContainerInfo, type Runtime } from "./runtime.ts";

export interface ContainerNamesOptions {
  procDir?: string;
  /** how often runtimes without events are asked again */
  pollMs?: number;
  /** where a runtime that fails is reported, once until it answers again */
  onWarning?: (line: string) => void;
  /** called with the new names after every change of them */
  onLabels?: (labels: Map<number, string>) => void;
}

/**
 * Docker (DOCKER_HOST or its default socket), Podman, and the CRI on each of its usual sockets, or on
 * those PKTPATH_CRI_SOCKET lists (colon-separated): a node whose runtime listens elsewhere, or a pod
 * that mounts the node's socket under another path.
 */
export function defaultRuntimes(env: NodeJS.ProcessEnv = process.env): Runtime[] {
  const listed = (env.PKTPATH_CRI_SOCKET ?? "").split(":").filter((p) => p !== "");
  const cri = listed.length > 0 ? listed : DEFAULT_CRI_SOCKETS;
  return [new DockerRuntime(defaultDockerSocket(env)), new PodmanRuntime(), ...cri.map((s) => new CriRuntime(s))];
}

interface Slot {
  runtime: Runtime;
  /** its last good answer: kept through a failed one, since the containers are likely still there */
  containers: ContainerInfo[];
  failing: boolean;
  running: Promise<void> | null;
  /** asked again while a query was under way: its answer may predate the change */
  again: boolean;
}

export class ContainerNames {
  private labels = new Map<number, string>();
  private readonly slots: Slot[];
  private readonly procDir: string;
  private readonly pollMs: number;
  private readonly onWarning: (line: string) => void;
  private readonly onLabels: ((labels: Map<number, string>) => void) | undefined;
  private stops: (() => void)[] = [];
  private timer: NodeJS.Timeout | undefined;
  private started = false;
  private rebuilding: Promise<void> = Promise.resolve();

  constructor(runtimes: Runtime[], opts: ContainerNamesOptions = {}) {
    this.slots = runtimes.map((runtime) => ({ runtime, containers: [], failing: false, running: null, again: false }));
    this.procDir = opts.procDir ?? "/proc";
    this.pollMs = opts.pollMs ?? 2000;
    this.onWarning = opts.onWarning ?? ((line) => void process.stderr.write(`pktpath: ${line}\n`));
    this.onLabels = opts.onLabels;
  }

  /** The current name of this namespace's container or pod, without I/O. */
  lookup(inode: number): string | undefined {
    return this.labels.get(inode);
  }

  /** The current names, inode → name (a copy). */
  snapshot(): Map<number, string> {
    return new Map(this.labels);
  }

  /** Subscribes to runtime events and starts the poll; the first call only. */
  start(): void {
    if (this.started || this.slots.length === 0) return;
    this.started = true;
    for (const slot of this.slots) {
      const stop = slot.runtime.watch?.(() => void this.refreshSlot(slot));
      if (stop) this.stops.push(stop);
    }
    const polled = this.slots.filter((s) => s.runtime.watch === undefined);
    if (polled.length > 0) {
      this.timer = setInterval(() => void Promise.all(polled.map((s) => this.refreshSlot(s))), this.pollMs);
      this.timer.unref();
    }
  }

  /** Asks every runtime now; resolves when the names reflect their answers. */
  async refresh(): Promise<void> {
    await Promise.all(this.slots.map((s) => this.refreshSlot(s)));
  }

  close(): void {
    clearInterval(this.timer);
    for (const stop of this.stops) stop();
    this.stops = [];
    for (const slot of this.slots) slot.runtime.close?.();
  }

  /** One query per runtime at a time; a request during one runs once more after it. */
  private refreshSlot(slot: Slot): Promise<void> {
    if (slot.running !== null) {
      slot.again = true;
      return slot.running;
    }
    slot.running = (async () => {
      // A change announced while the names are rebuilt is asked about too.
      do {
        slot.again = false;
        await this.query(slot);
        await this.rebuild();
      } while (slot.again);
    })().finally(() => {
      slot.running = null;
    });
    return slot.running;
  }

  private async query(slot: Slot): Promise<void> {
    const answer = await slot.runtime.list().catch((e: unknown) => ({
      state: "error" as const, error: e instanceof Error ? e.message : String(e),
    }));
    if (answer.state === "error") {
      // Once, until it answers again; meanwhile its containers keep the names of its last answer.
      if (!slot.failing) this.onWarning(`names: ${slot.runtime.describe}: ${answer.error}`);
      slot.failing = true;
      return;
    }
    slot.failing = false;
    slot.containers = answer.state === "ok" ? answer.containers : [];
  }

  /** Maps every runtime's containers to their namespace's inode and names each namespace once. */
  private rebuild(): Promise<void> {
    this.rebuilding = this.rebuilding.then(async () => {
      const containers = this.slots.flatMap((s) => s.containers);
      const inodes = await mapLimited(containers, 16, (c) => this.inodeOf(c));
      const members = new Map<number, ContainerInfo[]>();
      containers.forEach((c, i) => {
        const ino = inodes[i];
        if (ino === undefined) return;
        const list = members.get(ino);
        if (list) list.push(c);
        else members.set(ino, [c]);
      });
      const labels = new Map<number, string>();
      for (const [ino, list] of members) {
        const label = labelOf(list);
        if (label !== undefined) labels.set(ino, label);
      }
      this.labels = labels;
      this.onLabels?.(new Map(labels));
    });
    return this.rebuilding;
  }

  /**
   * The init process's namespace; else the runtime's bind mount of it, directly or, inside a pod with
   * hostPID, through pid 1's root (the host's mount namespace).
   */
  private async inodeOf(c: ContainerInfo): Promise<number | undefined> {
    if (c.pid !== undefined && c.pid > 0) {
      const ino = netnsInodeOfLink(await settle(readlink(`${this.procDir}/${c.pid}/ns/net`)));
      if (ino !== undefined) return ino;
    }
    if (c.netnsPath === undefined) return undefined;
    const st = (await settle(stat(c.netnsPath))) ?? (await settle(stat(`${this.procDir}/1/root${c.netnsPath}`)));
    return st?.ino;
  }
}
