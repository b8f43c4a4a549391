// Keeps netfilter observers (bpf/pktpath.bpf.c nf_enter, nf_after) attached in every network
// namespace there is, placed around each namespace's chains (nfplan.ts). Namespaces are found as
// `ip netns` mounts and as processes' /proc/PID/ns/net; their chains with `nft -j list ruleset` and
// /proc/net/ip_tables_names run inside them (nsenter). A link keeps its namespace alive, so the
// observers of a namespace that is gone from view are detached at once.
import { execFile } from "node:child_process";
import { readdir, readlink, stat } from "node:fs/promises";
import { promisify } from "node:util";
import { ENTER_PRIORITY, LAST_PRIORITY, legacyChains, legacyNatKinds, nftChains, planHooks, type Chain, type HookPlan, type NetfilterLayout } from "./nfplan.ts";
import type { ObserverPlace, WorkerCommand, WorkerReply } from "./ringWorker.ts";

const run = promisify(execFile);

export type Send = (cmd: DistributiveOmit<WorkerCommand, "id">) => Promise<WorkerReply>;
type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;

export interface ObserverOptions {
  /** how often namespaces are looked for */
  scanMs?: number;
  /** namespaces whose chains are looked at again per scan */
  refreshPerScan?: number;
  onWarning?: (message: string) => void;
  netnsDir?: string;
  procDir?: string;
}

/** inode → a path that opens the namespace. */
export async function findNamespaces(netnsDir = "/run/netns", procDir = "/proc"): Promise<Map<number, string>> {
  const found = new Map<number, string>();
  const names = await readdir(netnsDir).catch(() => [] as string[]);
  for (const name of names.sort()) {
    const st = await stat(`${netnsDir}/${name}`).catch(() => undefined);
    if (st && !found.has(st.ino)) found.set(st.ino, `${netnsDir}/${name}`);
  }
  const pids = (await readdir(procDir).catch(() => [] as string[])).filter((e) => /^\d+$/.test(e));
  await Promise.all(pids.map(async (pid) => {
    const link = await readlink(`${procDir}/${pid}/ns/net`).catch(() => "");
    const m = /^net:\[(\d+)\]$/.exec(link);
    if (m && !found.has(Number(m[1]))) found.set(Number(m[1]), `${procDir}/${pid}/ns/net`);
  }));
  return found;
}

const SEP = "\n@@pktpath@@\n";
// One process per namespace: the nft ruleset, the legacy tables, and the legacy nat targets (read
// only when the nat table exists: iptables-legacy-save would create it otherwise).
const SCRIPT = `nft -j list ruleset 2>/dev/null; printf '${SEP}'; cat /proc/self/net/ip_tables_names 2>/dev/null; printf '${SEP}';` +
  ` cat /proc/self/net/ip6_tables_names 2>/dev/null; printf '${SEP}';` +
  ` if grep -qx nat /proc/self/net/ip_tables_names 2>/dev/null; then iptables-legacy-save -t nat 2>/dev/null; fi`;

/** The chains of the namespace at path, or an error text. */
export async function chainsIn(path: string): Promise<{ chains: Chain[]; error?: string }> {
  let out: string;
  try {
    out = (await run("nsenter", [`--net=${path}`, "sh", "-c", SCRIPT], { timeout: 5000, maxBuffer: 64 << 20 })).stdout;
  } catch (e) {
    return { chains: [], error: e instanceof Error ? e.message.split("\n")[0] ?? String(e) : String(e) };
  }
  const [nft = "", v4 = "", v6 = "", natSave = ""] = out.split(SEP.trim()).map((s) => s.trim());
  let json: unknown;
  try {
    json = nft ? JSON.parse(nft) : {};
  } catch {
    json = {};
  }
  const lines = (t: string): string[] => t.split("\n").map((l) => l.trim()).filter(Boolean);
  return { chains: [...nftChains(json), ...legacyChains(lines(v4), "iptables", legacyNatKinds(natSave)), ...legacyChains(lines(v6), "ip6tables")] };
}

/** Every observer of a namespace's plan: the entering one at each hook, and those after chains. */
export function placesOf(plans: HookPlan[]): ObserverPlace[] {
  // Each observer may move up past priorities other BPF programs hold, but never past the next chain.
  const chainAt = (p: HookPlan, k: number): number | undefined => p.chainsBefore[k]?.[0]?.priority;
  return plans.flatMap((p) => [
    { prog: "nf_enter" as const, pf: p.pf, hook: p.hook, priority: ENTER_PRIORITY, below: chainAt(p, 0) ?? LAST_PRIORITY },
    ...p.afterPriorities.map((priority, k) => ({ prog: "nf_after" as const, pf: p.pf, hook: p.hook, priority, below: chainAt(p, k + 1) ?? LAST_PRIORITY })),
  ]);
}

export class NetfilterObservers {
  private readonly attached = new Map<number, { path: string; plan: string }>();
  private readonly gone = new Map<number, number>();
  private timer: NodeJS.Timeout | undefined;
  private refreshAt = 0;
  private scanning: Promise<void> | undefined;
  private readonly warned = new Set<string>();
  private readonly opts: Required<Omit<ObserverOptions, "onWarning">> & Pick<ObserverOptions, "onWarning">;

  constructor(private readonly send: Send, private readonly layout: NetfilterLayout, opts: ObserverOptions = {}) {
    this.opts = { scanMs: 1000, refreshPerScan: 4, netnsDir: "/run/netns", procDir: "/proc", ...opts };
  }

  /** Attaches in every namespace there is now; then keeps looking. */
  async start(): Promise<void> {
    await this.scan();
    this.timer = setInterval(() => void this.scan(), this.opts.scanMs);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
  }

  get namespaces(): number {
    return this.attached.size;
  }

  private warn(message: string): void {
    if (this.warned.has(message)) return;
    this.warned.add(message);
    this.opts.onWarning?.(message);
  }

  /** Looks at these namespaces' chains again now (a drop by a chain not known yet), placing observers anew. */
  async refresh(inos: number[]): Promise<void> {
    await Promise.all(inos.map((ino) => {
      const entry = this.attached.get(ino);
      return entry ? this.observe(ino, entry.path) : Promise.resolve();
    }));
  }

  /** One scan at a time: a slow one is not overtaken by the next. */
  scan(): Promise<void> {
    this.scanning ??= this.scanOnce().finally(() => (this.scanning = undefined));
    return this.scanning;
  }

  private async scanOnce(): Promise<void> {
    const now = await findNamespaces(this.opts.netnsDir, this.opts.procDir);
    const work: Promise<void>[] = [];
    for (const [ino, entry] of this.attached) {
      if (now.has(ino)) continue;
      this.attached.delete(ino);
      this.gone.set(ino, Date.now());
      work.push(this.send({ type: "observe", netns: ino, path: entry.path, places: [] }).then(() => undefined));
    }
    // Records of a namespace just gone may still be on their way: its layout stays a while.
    for (const [ino, at] of this.gone) {
      if (Date.now() - at < 10_000 || now.has(ino)) continue;
      this.gone.delete(ino);
      this.layout.delete(ino);
    }
    const fresh = [...now].filter(([ino]) => !this.attached.has(ino));
    const known = [...this.attached.keys()];
    const refresh = known.length === 0 ? [] : Array.from({ length: Math.min(this.opts.refreshPerScan, known.length) },
      () => known[this.refreshAt++ % known.length]!);
    const targets = [...fresh, ...refresh.map((ino) => [ino, this.attached.get(ino)?.path ?? ""] as [number, string])];
    // A few namespaces at a time: each costs a process.
    for (let i = 0; i < targets.length; i += 8) {
      await Promise.all(targets.slice(i, i + 8).map(([ino, path]) => this.observe(ino, path)));
    }
    await Promise.all(work);
  }

  private async observe(ino: number, path: string): Promise<void> {
    const { chains, error } = await chainsIn(path);
    if (error) this.warn(`netfilter chains are not named (nsenter/nft: ${error})`);
    const plans = planHooks(chains);
    const plan = JSON.stringify(plans);
    if (this.attached.get(ino)?.plan === plan) return;
    this.layout.set(ino, plans);
    const reply = await this.send({ type: "observe", netns: ino, path, places: placesOf(plans) });
    if (reply.type !== "observe") return;
    for (const e of reply.errors) this.warn(`netfilter observers: ${e}`);
    if (reply.attached > 0) this.attached.set(ino, { path, plan });
  }
}
