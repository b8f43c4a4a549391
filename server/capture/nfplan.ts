// Where the netfilter observers go in one network namespace, and what their records mean. The
// kernel runs a hook's functions in priority order; an observer right after each distinct priority
// of a chain tells, by having run, that the chains before it let the packet pass, and, by not
// running before the packet's drop, which chain dropped it. Pure: ruleset text in, plan out.
import { isObject } from "../../shared/validate.ts";
import type { NetfilterStep } from "../../shared/types.ts";
import { hookName } from "./decode.ts";

export const NFPROTO_IPV4 = 2;
export const NFPROTO_IPV6 = 10;
export const HOOKS = ["prerouting", "input", "forward", "output", "postrouting"] as const;
/** The kernel reserves INT_MIN and INT_MAX; the entering observer goes just after the first. */
export const ENTER_PRIORITY = -2147483647;
const MAX_PRIORITY = 2147483646;
/** NF_IP_PRI_LAST: the kernel keeps it for itself; observers stay below it. */
export const LAST_PRIORITY = 2147483647;
/** The NAT core's own hooks, which run every nat chain of their hook: dstnat before routing, srcnat after. */
const NAT_PRIORITY: Record<string, number> = { prerouting: -100, output: -100, input: 100, postrouting: 100 };
/** iptables-legacy tables: the hooks of their built-in chains, at their fixed priorities. */
const LEGACY_TABLES: Record<string, { priority: number; hooks: readonly string[] }> = {
  raw: { priority: -300, hooks: ["prerouting", "output"] },
  mangle: { priority: -150, hooks: HOOKS },
  nat: { priority: 0, hooks: ["prerouting", "input", "output", "postrouting"] }, // priority by hook, see below
  filter: { priority: 0, hooks: ["input", "forward", "output"] },
  security: { priority: 50, hooks: ["input", "forward", "output"] },
};

/** A base chain (nft) or a built-in chain of a legacy table, as it sits at one hook. */
export interface Chain {
  /** "ip", "ip6", "inet"; "iptables"/"ip6tables" for legacy tables */
  family: string;
  table: string;
  chain: string;
  hook: string;
  /** where the kernel runs it */
  priority: number;
  /** the rewrite its rules make, if any: "masquerade", "snat", "dnat", "redirect" */
  natKind?: string;
}

/** One (family, hook) of a namespace: the observers after the entering one, and what lies before each. */
export interface HookPlan {
  pf: number;
  hook: number;
  /** priorities of the observers after chains, ascending; observer k (1-based) is at afterPriorities[k-1] */
  afterPriorities: number[];
  /** chains that run before observer k and after observer k-1, by k (1-based); and beyond the last */
  chainsBefore: Chain[][];
}

const NAT_STATEMENTS = ["masquerade", "snat", "dnat", "redirect"] as const;

function natKindOf(expr: unknown): string | undefined {
  if (!Array.isArray(expr)) return undefined;
  for (const e of expr) {
    if (!isObject(e)) continue;
    const kind = NAT_STATEMENTS.find((k) => k in e);
    if (kind) return kind;
  }
  return undefined;
}

/** The base chains of `nft -j list ruleset` that run at IP hooks (ip, ip6 and inet families). */
export function nftChains(json: unknown): Chain[] {
  const items = isObject(json) && Array.isArray(json.nftables) ? json.nftables : [];
  const chains: Chain[] = [];
  const nat = new Map<string, string>();
  for (const item of items) {
    if (!isObject(item)) continue;
    const rule = item.rule;
    if (isObject(rule)) {
      const kind = natKindOf(rule.expr);
      if (kind) nat.set(`${String(rule.family)} ${String(rule.table)} ${String(rule.chain)}`, kind);
      continue;
    }
    const c = item.chain;
    if (!isObject(c) || typeof c.hook !== "string" || typeof c.prio !== "number") continue;
    if (c.family !== "ip" && c.family !== "ip6" && c.family !== "inet") continue;
    if (!(HOOKS as readonly string[]).includes(c.hook)) continue;
    const natPriority = c.type === "nat" ? NAT_PRIORITY[c.hook] : undefined;
    chains.push({ family: c.family, table: String(c.table), chain: String(c.name), hook: c.hook,
      priority: natPriority ?? c.prio });
  }
  for (const c of chains) {
    const kind = nat.get(`${c.family} ${c.table} ${c.chain}`);
    if (kind) c.natKind = kind;
  }
  return chains;
}

/**
 * The built-in chains of legacy tables (/proc/net/ip_tables_names, ip6_tables_names). natKinds:
 * the targets `iptables-legacy-save -t nat` shows per chain ("POSTROUTING" → "masquerade").
 */
export function legacyChains(tables: string[], family: "iptables" | "ip6tables", natKinds: ReadonlyMap<string, string> = new Map()): Chain[] {
  const out: Chain[] = [];
  for (const table of tables) {
    const def = LEGACY_TABLES[table];
    if (!def) continue;
    for (const hook of def.hooks) {
      const chain = hook.toUpperCase();
      const priority = table === "nat" ? (NAT_PRIORITY[hook] ?? 0) : def.priority;
      const c: Chain = { family, table, chain, hook, priority };
      const kind = table === "nat" ? natKinds.get(chain) : undefined;
      if (kind) c.natKind = kind;
      out.push(c);
    }
  }
  return out;
}

/** The NAT targets of `iptables-legacy-save -t nat` output, by chain. */
export function legacyNatKinds(save: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const m of save.matchAll(/^-A (\S+) .*-j (MASQUERADE|SNAT|DNAT|REDIRECT)\b/gm)) {
    if (!out.has(m[1]!)) out.set(m[1]!, m[2]!.toLowerCase());
  }
  return out;
}

function runsAt(c: Chain, pf: number): boolean {
  if (c.family === "inet") return true;
  return pf === NFPROTO_IPV4 ? c.family === "ip" || c.family === "iptables" : c.family === "ip6" || c.family === "ip6tables";
}

/** The observers of every IP hook: one after each distinct priority some chain runs at. */
export function planHooks(chains: Chain[]): HookPlan[] {
  const plans: HookPlan[] = [];
  for (const pf of [NFPROTO_IPV4, NFPROTO_IPV6]) {
    HOOKS.forEach((hook, hookNum) => {
      const here = chains.filter((c) => c.hook === hook && runsAt(c, pf)).sort((a, b) => a.priority - b.priority);
      const priorities = [...new Set(here.map((c) => c.priority))];
      const chainsBefore = priorities.map((p) => here.filter((c) => c.priority === p));
      plans.push({ pf, hook: hookNum, afterPriorities: priorities.map((p) => Math.min(p + 1, MAX_PRIORITY)), chainsBefore });
    });
  }
  return plans;
}

export function chainLabel(c: Chain): string {
  return `${c.family} ${c.table} ${c.chain}`;
}

function stepOf(chains: Chain[], hook: number, verdict: string): { netfilter: NetfilterStep; natKind?: string } | undefined {
  const first = chains[0];
  if (!first) return undefined;
  // Chains that share a priority run as one step here: name them all.
  const netfilter: NetfilterStep = { family: first.family, table: chains.map((c) => c.table).join("|"),
    chain: chains.map((c) => c.chain).join("|"), hook: hookName(hook), verdict };
  const natKind = chains.find((c) => c.natKind)?.natKind;
  return natKind ? { netfilter, natKind } : { netfilter };
}

/** What the observers of many namespaces mean: the decoder's NetfilterResolver. */
export class NetfilterLayout {
  private readonly plans: Map<number, Map<number, HookPlan>>;
  /** the layout as it is now, for records kept to be decoded later; made again after a change */
  private frozen: NetfilterLayout | undefined;

  constructor(plans?: Map<number, Map<number, HookPlan>>) {
    this.plans = plans ?? new Map();
  }

  set(netns: number, plans: HookPlan[]): void {
    this.plans.set(netns, new Map(plans.map((p) => [p.pf * 8 + p.hook, p])));
    this.frozen = undefined;
  }

  delete(netns: number): void {
    this.plans.delete(netns);
    this.frozen = undefined;
  }

  /**
   * What the records read now mean, kept unchanged whatever the observers learn later (a namespace
   * deleted, its rules replaced): the capture log decodes its records again with it. Each namespace's
   * plan is never changed once made, so this is a copy of the map of them, shared until a change.
   */
  snapshot(): NetfilterLayout {
    return (this.frozen ??= new NetfilterLayout(new Map(this.plans)));
  }

  get(netns: number): HookPlan[] | undefined {
    const p = this.plans.get(netns);
    return p ? [...p.values()] : undefined;
  }

  private plan(netns: number, pf: number, hook: number): HookPlan | undefined {
    return this.plans.get(netns)?.get(pf * 8 + hook);
  }

  step(netns: number, pf: number, hook: number, index: number): { netfilter: NetfilterStep; natKind?: string } | undefined {
    const chains = this.plan(netns, pf, hook)?.chainsBefore[index - 1];
    return chains ? stepOf(chains, hook, "accept") : undefined;
  }

  drop(netns: number, pf: number, hook: number, index: number): { rule: string; netfilter: NetfilterStep } | undefined {
    const chains = this.plan(netns, pf, hook)?.chainsBefore[index];
    const step = chains ? stepOf(chains, hook, "drop") : undefined;
    return chains && step ? { rule: chains.map(chainLabel).join(" or "), netfilter: step.netfilter } : undefined;
  }
}
