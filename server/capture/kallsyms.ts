// Names kernel text addresses (kfree_skb/consume_skb callers) from /proc/kallsyms: "func+0xoff".
// Addresses read as zero without CAP_SYSLOG (kptr_restrict); then nothing is named.
import { readFile } from "node:fs/promises";
import { err, ok, type Result } from "../../shared/result.ts";

export interface Symbolizer {
  symbolize(addr: bigint): string | undefined;
  /** number of text symbols known */
  size: number;
}

/** Parses kallsyms text: "ffffffff81000000 T _stext [module]" per line; keeps text symbols only. */
export function parseKallsyms(text: string): Symbolizer {
  const entries: { addr: bigint; name: string }[] = [];
  for (const line of text.split("\n")) {
    const [addrHex, type, name] = line.split(/\s+/, 3);
    if (!addrHex || !name || (type !== "t" && type !== "T")) continue;
    const addr = BigInt(`0x${addrHex}`);
    if (addr !== 0n) entries.push({ addr, name });
  }
  entries.sort((a, b) => (a.addr < b.addr ? -1 : a.addr > b.addr ? 1 : 0));
  const cache = new Map<bigint, string | undefined>();
  const lookup = (addr: bigint): string | undefined => {
    let lo = 0;
    let hi = entries.length - 1;
    let found = -1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      const e = entries[mid];
      if (e && e.addr <= addr) { found = mid; lo = mid + 1; } else hi = mid - 1;
    }
    const e = entries[found];
    return e ? `${e.name}+0x${(addr - e.addr).toString(16)}` : undefined;
  };
  return {
    size: entries.length,
    symbolize(addr: bigint): string | undefined {
      if (!cache.has(addr)) cache.set(addr, lookup(addr));
      return cache.get(addr);
    },
  };
}

export async function loadKallsyms(path = "/proc/kallsyms"): Promise<Result<Symbolizer>> {
  try {
    const s = parseKallsyms(await readFile(path, "utf8"));
    return s.size > 0 ? ok(s) : err(`${path} shows no addresses (not root, or kptr_restrict)`);
  } catch (e) {
    return err(`cannot read ${path}: ${e instanceof Error ? e.message : String(e)}`);
  }
}
