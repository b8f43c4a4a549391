// Packets built byte by byte, as the wire has them (RFC 791, 8200, 768, 793, 792, 4443, 7348, 8926,
// 2784/2890): for running the kernel program's own parser on tunnels this machine has no driver for.

const u16 = (n: number): number[] => [(n >> 8) & 0xff, n & 0xff];
const u32 = (n: number): number[] => [(n >>> 24) & 0xff, (n >> 16) & 0xff, (n >> 8) & 0xff, n & 0xff];

export function v4(text: string): number[] {
  return text.split(".").map(Number);
}

export function v6(text: string): number[] {
  const [head = "", tail] = text.split("::");
  const l = head ? head.split(":") : [], r = tail ? tail.split(":") : [];
  const groups = tail === undefined ? l : [...l, ...Array<string>(8 - l.length - r.length).fill("0"), ...r];
  return groups.flatMap((g) => u16(parseInt(g, 16)));
}

export const ETH_IPV4 = 0x0800, ETH_IPV6 = 0x86dd, ETH_TEB = 0x6558;

export function ethernet(type: number, payload: number[], vlan?: number): number[] {
  const macs = [2, 0, 0, 0, 0, 1, 2, 0, 0, 0, 0, 2];
  return vlan === undefined ? [...macs, ...u16(type), ...payload] : [...macs, ...u16(0x8100), ...u16(vlan), ...u16(type), ...payload];
}

export interface V4Options { ttl?: number; id?: number; offset?: number; more?: boolean }

export function ipv4(src: string, dst: string, proto: number, payload: number[], o: V4Options = {}): number[] {
  const fo = ((o.offset ?? 0) / 8) | (o.more ? 0x2000 : 0);
  return [0x45, 0, ...u16(20 + payload.length), ...u16(o.id ?? 1), ...u16(fo), o.ttl ?? 64, proto, 0, 0, ...v4(src), ...v4(dst), ...payload];
}

/** IPv6 with extension headers given as [next header of the one after it, bytes] in order. */
export function ipv6(src: string, dst: string, next: number, payload: number[], hopLimit = 64): number[] {
  return [0x60, 0, 0, 0, ...u16(payload.length), next, hopLimit, ...v6(src), ...v6(dst), ...payload];
}

/** An 8-byte options header (hop-by-hop, destination options): next header, length 0, padding. */
export const optionsHeader = (next: number): number[] => [next, 0, 1, 4, 0, 0, 0, 0];
/** The fragment header: next header, offset in bytes, more fragments, id. */
export const fragmentHeader = (next: number, offset: number, more: boolean, id: number): number[] => [next, 0, ...u16(offset | (more ? 1 : 0)), ...u32(id)];

export const udp = (sport: number, dport: number, payload: number[]): number[] => [...u16(sport), ...u16(dport), ...u16(8 + payload.length), 0, 0, ...payload];
export const tcp = (sport: number, dport: number, flags: number): number[] => [...u16(sport), ...u16(dport), ...u32(1000), ...u32(0), 0x50, flags, ...u16(65535), 0, 0, 0, 0];
export const icmp = (type: number, code: number, id: number, seq: number, payload: number[] = []): number[] => [type, code, 0, 0, ...u16(id), ...u16(seq), ...payload];
/** An ICMP error quoting `quoted` (its IP header and at least 8 bytes of what follows). */
export const icmpError = (type: number, code: number, quoted: number[]): number[] => [type, code, 0, 0, 0, 0, 0, 0, ...quoted];
export const dnsQuery = (id: number): number[] => [...u16(id), 1, 0, 0, 1, 0, 0, 0, 0, 0, 0];

export const vxlan = (vni: number, inner: number[]): number[] => [0x08, 0, 0, 0, ...u32(vni << 8), ...inner];
export function geneve(vni: number, proto: number, inner: number[], optionWords = 0): number[] {
  return [optionWords & 0x3f, 0, ...u16(proto), ...u32(vni << 8), ...Array<number>(optionWords * 4).fill(0), ...inner];
}
export function gre(proto: number, inner: number[], key?: number, checksum = false): number[] {
  const flags = (checksum ? 0x8000 : 0) | (key !== undefined ? 0x2000 : 0);
  return [...u16(flags), ...u16(proto), ...(checksum ? [0, 0, 0, 0] : []), ...(key !== undefined ? u32(key) : []), ...inner];
}
