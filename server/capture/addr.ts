// Numbers of the kernel's headers as people read them: addresses (RFC 5952 for IPv6), protocol
// names, TCP flags, drop reasons. Pure.

const PROTO_NAMES: ReadonlyMap<number, string> = new Map([[1, "icmp"], [58, "icmpv6"], [6, "tcp"], [17, "udp"],
  [4, "ipip"], [41, "ipv6"], [47, "gre"], [50, "esp"], [51, "ah"], [132, "sctp"]]);

export function protoName(n: number): string {
  return PROTO_NAMES.get(n) ?? String(n);
}

export function ipv4Text(b: Uint8Array): string {
  return `${b[0]}.${b[1]}.${b[2]}.${b[3]}`;
}

/** RFC 5952: lowercase, no leading zeros, the longest run (≥2) of zero groups as "::", first if tied. */
export function ipv6Text(b: Uint8Array): string {
  const groups: number[] = [];
  for (let i = 0; i < 16; i += 2) groups.push(((b[i] ?? 0) << 8) | (b[i + 1] ?? 0));
  const mapped = groups.slice(0, 5).every((g) => g === 0) && groups[5] === 0xffff;
  if (mapped) return `::ffff:${ipv4Text(b.subarray(12))}`;
  let bestAt = -1;
  let bestLen = 1;
  for (let i = 0; i < 8;) {
    if (groups[i] !== 0) { i++; continue; }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLen) { bestAt = i; bestLen = j - i; }
    i = j;
  }
  const hex = (gs: number[]): string => gs.map((g) => g.toString(16)).join(":");
  if (bestAt < 0) return hex(groups);
  return `${hex(groups.slice(0, bestAt))}::${hex(groups.slice(bestAt + bestLen))}`;
}

// A capture sees few distinct IPv4 addresses: their text is made once.
const v4Cache = new Map<number, string>();

/** The address of `family` at byte offset `at` of dv, as text. */
export function ipText(dv: DataView, at: number, family: 4 | 6): string {
  if (family === 6) return ipv6Text(new Uint8Array(dv.buffer, dv.byteOffset + at, 16));
  const key = dv.getUint32(at, false);
  let text = v4Cache.get(key);
  if (text === undefined) {
    text = ipv4Text(new Uint8Array(dv.buffer, dv.byteOffset + at, 4));
    if (v4Cache.size < 65536) v4Cache.set(key, text);
  }
  return text;
}

/** TCP flags as letters in tcpdump's order of its set: F S R P A U E C ("SA" for a SYN-ACK). */
export function tcpFlagsText(flags: number): string {
  let out = "";
  for (const [bit, letter] of [[0x01, "F"], [0x02, "S"], [0x04, "R"], [0x08, "P"], [0x10, "A"], [0x20, "U"], [0x40, "E"], [0x80, "C"]] as const) {
    if (flags & bit) out += letter;
  }
  return out;
}

export function dropReasonName(value: number, reasons: ReadonlyMap<number, string>): string {
  const name = reasons.get(value);
  if (name !== undefined) return name;
  // Values above 0xffff belong to a subsystem's own reason list (enum skb_drop_reason_subsys).
  return value > 0xffff ? `SUBSYS_${value >>> 16}_${value & 0xffff}` : String(value);
}
