// IPv4 and IPv6 addresses as the filter holds them: 16 bytes in network order, IPv4 in the first 4
// (as struct pktpath_filter_insn and struct pktpath_event hold them). Pure: no node:net here.

export type Family = 4 | 6;

export const ADDR_LEN = 16;

export interface Address {
  family: Family;
  /** ADDR_LEN bytes, IPv4 in the first 4 */
  bytes: Uint8Array;
}

/** Bytes of an address that a family uses. */
export const familyBytes = (family: Family): number => (family === 4 ? 4 : 16);

function octet(text: string): number | undefined {
  if (!/^\d{1,3}$/.test(text)) return undefined;
  const n = Number(text);
  return n <= 255 ? n : undefined;
}

/** "10.1" → the octets given (1 to 4 of them), as pcap's `net 10.1` reads them. */
export function parseIPv4Octets(text: string): number[] | undefined {
  const parts = text.split(".");
  if (parts.length > 4) return undefined;
  const out: number[] = [];
  for (const p of parts) {
    const n = octet(p);
    if (n === undefined) return undefined;
    out.push(n);
  }
  return out;
}

function parseIPv4(text: string): Uint8Array | undefined {
  const octets = parseIPv4Octets(text);
  if (octets?.length !== 4) return undefined;
  const out = new Uint8Array(ADDR_LEN);
  out.set(octets);
  return out;
}

/** Hex groups of one side of "::" (an IPv4 tail counts as two groups); undefined if malformed. */
function groups(text: string, last: boolean): number[] | undefined {
  if (text === "") return [];
  const out: number[] = [];
  const parts = text.split(":");
  for (let i = 0; i < parts.length; i++) {
    const p = parts[i] ?? "";
    if (last && i === parts.length - 1 && p.includes(".")) {
      const v4 = parseIPv4(p);
      if (!v4) return undefined;
      out.push(((v4[0] ?? 0) << 8) | (v4[1] ?? 0), ((v4[2] ?? 0) << 8) | (v4[3] ?? 0));
      continue;
    }
    if (!/^[0-9a-fA-F]{1,4}$/.test(p)) return undefined;
    out.push(parseInt(p, 16));
  }
  return out;
}

function parseIPv6(text: string): Uint8Array | undefined {
  const halves = text.split("::");
  if (halves.length > 2) return undefined;
  const [head = "", tail] = halves;
  const left = groups(head, tail === undefined);
  const right = tail === undefined ? [] : groups(tail, true);
  if (!left || !right) return undefined;
  const missing = 8 - left.length - right.length;
  if (tail === undefined ? missing !== 0 : missing < 1) return undefined;
  const all = [...left, ...Array<number>(tail === undefined ? 0 : missing).fill(0), ...right];
  const out = new Uint8Array(ADDR_LEN);
  all.forEach((g, i) => {
    out[i * 2] = g >> 8;
    out[i * 2 + 1] = g & 0xff;
  });
  return out;
}

/** A full IPv4 (dotted quad) or IPv6 address; undefined for anything else (names, zones, prefixes). */
export function parseAddress(text: string): Address | undefined {
  if (text.includes(":")) {
    const bytes = parseIPv6(text);
    return bytes && { family: 6, bytes };
  }
  const bytes = parseIPv4(text);
  return bytes && { family: 4, bytes };
}

/** IPv6 text as RFC 5952 writes it: lower case, no leading zeros, the longest zero run as "::". */
function formatIPv6(bytes: Uint8Array): string {
  const g = Array.from({ length: 8 }, (_, i) => ((bytes[i * 2] ?? 0) << 8) | (bytes[i * 2 + 1] ?? 0));
  let best = -1, bestLen = 1;
  for (let i = 0; i < 8;) {
    let j = i;
    while (j < 8 && g[j] === 0) j++;
    if (j - i > bestLen) [best, bestLen] = [i, j - i];
    i = j === i ? i + 1 : j;
  }
  const hex = (from: number, to: number) => g.slice(from, to).map((v) => v.toString(16)).join(":");
  return best < 0 ? hex(0, 8) : `${hex(0, best)}::${hex(best + bestLen, 8)}`;
}

export function formatAddress(family: Family, bytes: Uint8Array): string {
  return family === 4 ? Array.from(bytes.subarray(0, 4)).join(".") : formatIPv6(bytes);
}

/** The mask of a prefix length (0..32 or 0..128), in ADDR_LEN bytes. */
export function prefixMask(bits: number): Uint8Array {
  const out = new Uint8Array(ADDR_LEN);
  for (let i = 0; i < ADDR_LEN; i++) {
    const left = bits - i * 8;
    out[i] = left >= 8 ? 0xff : left <= 0 ? 0 : (0xff << (8 - left)) & 0xff;
  }
  return out;
}

/** The prefix length of a contiguous mask, or undefined when its ones are not all leading. */
export function prefixLength(family: Family, mask: Uint8Array): number | undefined {
  const n = familyBytes(family);
  let bits = 0;
  for (let i = 0; i < n; i++) {
    const b = mask[i] ?? 0;
    const ones = Math.clz32(~(b << 24) >>> 0);
    if (bits !== i * 8 && b !== 0) return undefined;
    if ((b << ones) & 0xff) return undefined;
    bits += Math.min(ones, 8);
  }
  return bits;
}

/** Whether addr has bits outside mask (pcap refuses `net 10.0.0.1/8`). */
export function hasHostBits(addr: Uint8Array, mask: Uint8Array): boolean {
  return addr.some((b, i) => (b & ~(mask[i] ?? 0) & 0xff) !== 0);
}
