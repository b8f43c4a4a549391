// Names kernel text addresses (kfree_skb/consume_skb callers) from /proc/kallsyms: "func+0xoff".
// Addresses read as zero without CAP_SYSLOG (kptr_restrict); then nothing is named.
import { readFile } from "node:fs/promises";
import { err, ok, type Result } from "../../shared/result.ts";

export interface Symbolizer {
  symbolize(addr: bigint): string | undefined;
  /** number of text symbols known */
  size: number;
}

/**
 * Parses kallsyms text: "ffffffff81000000 T _stext [module]" per line; keeps text symbols only. A
 * kernel has some 120,000 of them: kept as one sorted array of addresses and their names in one
 * string (an object, a BigInt and a string each were 10 MiB of every capture's heap, kept alive
 * with the whole text the names were cut from).
 */
export function parseKallsyms(text: string): Symbolizer {
  const found: { addr: bigint; name: string }[] = [];
  for (const line of text.split("\n")) {
    const [addrHex, type, name] = line.split(/\s+/, 3);
    if (!addrHex || !name || (type !== "t" && type !== "T")) continue;
    const addr = BigInt(`0x${addrHex}`);
    if (addr !== 0n) found.push({ addr, name });
  }
  found.sort((a, b) => (a.addr < b.addr ? -1 : a.addr > b.addr ? 1 : 0));
  const addrs = new BigUint64Array(found.length);
  const ends = new Uint32Array(found.length);
  let length = 0;
  found.forEach((e, i) => {
    addrs[i] = e.addr;
    length += e.name.length;
    ends[i] = length;
  });
  // joined: one flat string of its own, that refers neither to the text read nor to its pieces
  const names = found.map((e) => e.name).join("");
  const cache = new Map<bigint, string | undefined>();
  const lookup = (addr: bigint): string | undefined => {
    let lo = 0;
    let hi = addrs.length - 1;
    let at = -1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      if (addrs[mid]! <= addr) {
        at = mid;
        lo = mid + 1;
      } else hi = mid - 1;
    }
    if (at < 0) return undefined;
    return `${names.slice(at === 0 ? 0 : ends[at - 1], ends[at])}+0x${(addr - addrs[at]!).toString(16)}`;
  };
  return {
    size: addrs.length,
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
