// What opens an exchange and what answers it, per kind: an ICMP echo request and its reply, a TCP
// SYN and its SYN-ACK or RST, a UDP datagram and the first one back (a DNS query and the answer with
// its id). Keys are built from one header, so a header rewritten by NAT makes keys of its own.
import type { ExchangeKind, ExchangeStatus, PacketInfo } from "./types.ts";

export interface ExchangeRule {
  kind: ExchangeKind;
  /** The key a request header opens (or, seen again, retries) an exchange under. */
  opens(p: PacketInfo): string | undefined;
  /** The key of the request this header answers, and what the answer means. */
  answers(p: PacketInfo): { key: string; status: Extract<ExchangeStatus, "complete" | "refused"> } | undefined;
}

const ECHO_REQUEST = { 4: 8, 6: 128 } as const;
const ECHO_REPLY = { 4: 0, 6: 129 } as const;

const isIcmp = (p: PacketInfo): boolean => p.proto === "icmp" || p.proto === "icmpv6";

export const echoRule: ExchangeRule = {
  kind: "icmp-echo",
  opens: (p) => (isIcmp(p) && p.icmp?.type === ECHO_REQUEST[p.family] ? `e|${p.family}|${p.src}|${p.dst}|${p.icmp.id}|${p.icmp.seq}` : undefined),
  answers: (p) => (isIcmp(p) && p.icmp?.type === ECHO_REPLY[p.family]
    ? { key: `e|${p.family}|${p.dst}|${p.src}|${p.icmp.id}|${p.icmp.seq}`, status: "complete" } : undefined),
};

const has = (flags: string | undefined, f: string): boolean => flags?.includes(f) ?? false;

export const tcpRule: ExchangeRule = {
  kind: "tcp",
  opens: (p) => (p.proto === "tcp" && has(p.tcpFlags, "S") && !has(p.tcpFlags, "A")
    ? `t|${p.family}|${p.src}|${p.sport}|${p.dst}|${p.dport}` : undefined),
  answers(p) {
    if (p.proto !== "tcp") return undefined;
    const key = `t|${p.family}|${p.dst}|${p.dport}|${p.src}|${p.sport}`;
    if (has(p.tcpFlags, "R")) return { key, status: "refused" };
    if (has(p.tcpFlags, "S") && has(p.tcpFlags, "A")) return { key, status: "complete" };
    return undefined;
  },
};

/** DNS is told by its port; query and answer are paired by transaction id too. */
const dnsId = (p: PacketInfo): string => (p.dnsId !== undefined && (p.sport === 53 || p.dport === 53) ? `|${p.dnsId}` : "");

export const udpRule: ExchangeRule = {
  kind: "udp",
  opens: (p) => (p.proto === "udp" && p.sport !== undefined ? `u|${p.family}|${p.src}|${p.sport}|${p.dst}|${p.dport}${dnsId(p)}` : undefined),
  answers: (p) => (p.proto === "udp" && p.sport !== undefined
    ? { key: `u|${p.family}|${p.dst}|${p.dport}|${p.src}|${p.sport}${dnsId(p)}`, status: "complete" } : undefined),
};

export const RULES: readonly ExchangeRule[] = [echoRule, tcpRule, udpRule];

/** ICMP errors quote the packet they are about: unreachable, time exceeded, too big, parameter problem. */
export function isIcmpError(p: PacketInfo): boolean {
  if (!isIcmp(p) || p.icmp === undefined || !p.quoted) return false;
  const t = p.icmp.type;
  return p.family === 4 ? [3, 4, 5, 11, 12].includes(t) : t >= 1 && t <= 4;
}

/** A port unreachable is a refusal: nobody listens there. */
export function isPortUnreachable(p: PacketInfo): boolean {
  const t = p.icmp?.type, c = p.icmp?.code ?? 0;
  return p.family === 4 ? t === 3 && c === 3 : t === 1 && c === 4;
}

const V4_UNREACHABLE = ["Destination Net Unreachable", "Destination Host Unreachable", "Destination Protocol Unreachable",
  "Destination Port Unreachable", "Frag needed and DF set", "Source Route Failed", "Destination Net Unknown",
  "Destination Host Unknown", "Source Host Isolated", "Destination Net Prohibited", "Destination Host Prohibited",
  "Destination Net Unreachable for Type of Service", "Destination Host Unreachable for Type of Service", "Packet filtered",
  "Precedence Violation", "Precedence Cutoff"];
const V6_UNREACHABLE = ["No route", "Administratively prohibited", "Beyond scope", "Address unreachable", "Port unreachable",
  "Source address failed ingress/egress policy", "Reject route to destination"];

/** What ping prints for an ICMP error. */
export function icmpErrorText(family: 4 | 6, type: number, code: number): string {
  if (family === 4) {
    switch (type) {
      case 3: return V4_UNREACHABLE[code] ?? `Destination Unreachable, code ${code}`;
      case 4: return "Source Quench";
      case 5: return "Redirect";
      case 11: return code === 1 ? "Frag reassembly time exceeded" : "Time to live exceeded";
      case 12: return "Parameter problem";
    }
  } else {
    switch (type) {
      case 1: return `Destination unreachable: ${V6_UNREACHABLE[code] ?? `code ${code}`}`;
      case 2: return "Packet too big";
      case 3: return code === 1 ? "Time exceeded: Defrag" : "Time exceeded: Hop limit";
      case 4: return "Parameter problem";
    }
  }
  return `ICMP type ${type} code ${code}`;
}
