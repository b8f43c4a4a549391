// pcap-filter's keywords: the ones pktpath supports, and the ones it refuses with the reason. A
// refused keyword is named in the error, never taken for a host name or skipped.

/** Protocol qualifiers pktpath supports (pcap's `pname`s). */
export const PNAMES = ["ip", "ip6", "tcp", "udp", "icmp", "icmp6"] as const;
export type Pname = (typeof PNAMES)[number];

const SUPPORTED = [...PNAMES, "and", "or", "not", "src", "dst", "host", "net", "mask", "port", "portrange",
  "proto", "less", "greater", "len", "length", "icmp-echo"];

const LINK = "pktpath filters IP packets";
const PFLOG = "pflog fields: pktpath filters IP packets";
const DIRECTION = "a packet's path crosses several interfaces, in and out";

/** Every refused keyword of pcap-filter, with why (and what to write instead, where there is something). */
const REFUSED: Record<string, string> = {
  ...Object.fromEntries(["ether", "fddi", "tr", "wlan", "link", "ppp", "slip", "arp", "rarp", "atalk", "aarp",
    "decnet", "lat", "sca", "moprc", "mopdl", "iso", "esis", "es-is", "isis", "is-is", "l1", "l2", "iih", "lsp",
    "snp", "csnp", "psnp", "clnp", "stp", "ipx", "netbeui", "radio", "llc", "vlan", "mpls", "pppoed", "pppoes",
    "batadv", "lane", "metac", "bcc", "oamf4ec", "oamf4sc", "sc", "ilmic", "oam", "oamf4", "connectmsg",
    "metaconnect", "vpi", "vci", "fisu", "lssu", "msu", "hfisu", "hlssu", "hmsu", "sio", "opc", "dpc", "sls",
    "hsio", "hopc", "hdpc", "hsls"].map((w) => [w, LINK])),
  ...Object.fromEntries(["type", "subtype", "dir", "ra", "ta", "addr1", "addr2", "addr3", "addr4"]
    .map((w) => [w, "802.11 frame fields: pktpath filters IP packets"])),
  ...Object.fromEntries(["ifname", "on", "rnr", "rulenum", "srnr", "subrulenum", "reason", "rset", "ruleset", "action"]
    .map((w) => [w, PFLOG])),
  geneve: `${LINK}, and matches the inner header of a tunnel, then the outer one, by itself`,
  vxlan: `${LINK}, and matches the inner header of a tunnel, then the outer one, by itself`,
  inbound: DIRECTION,
  outbound: DIRECTION,
  ifindex: DIRECTION,
  gateway: "it needs a host's Ethernet address (/etc/ethers)",
  protochain: "write `proto N`, which follows IPv6 extension headers",
  broadcast: "it needs the link layer or the netmask",
  multicast: "write `dst net 224.0.0.0/4` or `dst net ff00::/8`",
  sctp: "write `proto 132` (pktpath reads the ports of TCP and UDP only)",
  igmp: "write `ip proto 2`",
  igrp: "write `ip proto 9`",
  pim: "write `proto 103`",
  vrrp: "write `ip proto 112`",
  carp: "write `ip proto 112`",
  ah: "write `proto 51`",
  esp: "write `proto 50`",
};

/** Why pktpath refuses this pcap keyword, or undefined when it is not a refused keyword. */
export function refusal(word: string): string | undefined {
  return Object.hasOwn(REFUSED, word) ? REFUSED[word] : undefined;
}

const KEYWORDS = new Set([...SUPPORTED, ...Object.keys(REFUSED)]);

/** A word pcap's scanner reads as a keyword: never a host name or a value (unless escaped with "\"). */
export const isKeyword = (word: string): boolean => KEYWORDS.has(word);

export const isPname = (word: string): word is Pname => (PNAMES as readonly string[]).includes(word);

/** IP protocol names `proto \name` takes (as /etc/protocols spells them). */
export const PROTO_NAMES: Record<string, number> = { icmp: 1, tcp: 6, udp: 17, "ipv6-icmp": 58 };
