// The JSON shapes of ../shared/CONTRACT.md, plus the decoded event every capture source produces.
// Fields marked "ours" are not in the contract: they are this project's design, additive only.

/**
 * Device tracepoints ("net_dev_queue", ...); a stack step is named after the kernel function whose
 * step it is ("ip_rcv", "ip_forward", "__ip_local_out", ...); a netfilter step is "nft_do_chain" or
 * "ipt_do_table"; a device's receive handler is named after it ("br_handle_frame", ...).
 */
export type HopEvent = "net_dev_queue" | "net_dev_xmit" | "netif_rx" | "netif_receive_skb" | "napi_gro_receive_entry" | string;

export interface IcmpInfo {
  type: number;
  id: number;
  seq: number;
  code?: number;
}

export interface PacketInfo {
  family: 4 | 6;
  proto: string;
  src: string;
  dst: string;
  icmp?: IcmpInfo;
  sport?: number;
  dport?: number;
  /** "S", "SA", "R", "FA", "PA": TCP flags as letters, in the order F S R P A U E C of tcpdump's set */
  tcpFlags?: string;
  /** the DNS transaction id of a UDP datagram to or from port 53 */
  dnsId?: number;
  /** ours: the header an ICMP error quotes (the packet it is about) */
  quoted?: PacketInfo;
}

export type TunnelKind = "vxlan" | "geneve" | "gre" | "ipip" | "sit" | string;

/** The packet was encapsulated at this hop: the outer header that carried it. */
export interface OuterHeader {
  kind: TunnelKind;
  src: string;
  dst: string;
  vni?: number;
  sport?: number;
  dport?: number;
}

/** A netfilter base chain (nft) or table (iptables-legacy) the packet passed, and what it decided. */
export interface NetfilterStep {
  /** "ip", "ip6", "inet", "bridge", "netdev", or "iptables"/"ip6tables" for legacy tables */
  family: string;
  table: string;
  chain: string;
  /** "prerouting", "input", "forward", "output", "postrouting" */
  hook: string;
  /** "accept", "drop", and for a chain that rewrote the header "snat", "dnat", "masquerade" */
  verdict: string;
}

export interface Hop {
  event: HopEvent;
  ifname: string;
  ifindex?: number;
  /** network namespace inode */
  netns?: number;
  netnsName?: string;
  /** ns since capture start */
  tNs: number;
  len: number;
  /** the header at this hop, when it differs from the journey's `packet` (NAT rewrote it) */
  packet?: PacketInfo;
  /** the packet was encapsulated at this hop */
  outer?: OuterHeader;
  netfilter?: NetfilterStep;
  /** ours: IP TTL / hop limit at this hop, when a header was read */
  ttl?: number;
  /** ours: the other device of a step that knows two (ip_forward's way out, a bridge port's bridge) */
  toIfname?: string;
  /** ours: the header at this hop is an IP fragment; a later hop of the same journey without it
   * is after reassembly (the kernel reassembles into one of the fragments' skbs) */
  fragment?: FragmentInfo;
  /** ours: neigh_resolve_output: the neighbour the packet waits for, and its state ("INCOMPLETE") */
  neighbour?: NeighbourInfo;
}

export interface NeighbourInfo {
  address: string;
  state: string;
}

export interface DropInfo {
  reason: string;
  location?: string;
  /** the netfilter family, table and chain that dropped it: "inet filter forward" */
  rule?: string;
}

export interface FragmentInfo {
  ipId: number;
  /** bytes */
  offset: number;
  more: boolean;
}

export interface Journey {
  id: string;
  skbaddr: string;
  hops: Hop[];
  /** wall-clock time of its first hop, ISO 8601 UTC with microseconds */
  at?: string;
  dropped?: DropInfo;
  /** its header at its first hop */
  packet?: PacketInfo;
  /** an IP fragment (offset in bytes) */
  fragment?: FragmentInfo;
  /** ours: the id of the journey whose skb this one was cloned from (shares its data) */
  clonedFrom?: string;
}

export type ExchangeStatus = "complete" | "no-reply" | "dropped" | "error" | "refused";
export type PingStatus = Exclude<ExchangeStatus, "refused">;

/** An ICMP error that answered the request instead of a reply. */
export interface IcmpErrorInfo {
  /** the error's sender */
  from: string;
  type: number;
  code: number;
  /** what `ping` prints: "Time to live exceeded", "Packet filtered", ... */
  text: string;
  journey?: Journey;
}

export interface Ping {
  id: string;
  family: 4 | 6;
  src: string;
  dst: string;
  icmpId: number;
  seq: number;
  /** wall-clock time of the request's first hop */
  at?: string;
  request?: Journey;
  reply?: Journey;
  rttNs?: number;
  /** the other fragments of a fragmented request or reply */
  fragments?: Journey[];
  error?: IcmpErrorInfo;
  status: PingStatus;
  /** the source lost records while this was open (a full kernel ring): its path and status may be incomplete */
  recordsLost?: boolean;
}

export type ExchangeKind = "icmp-echo" | "tcp" | "udp";

/** Any request paired with its answer; a Ping is the Exchange of kind icmp-echo. */
export interface Exchange {
  id: string;
  kind: ExchangeKind;
  family: 4 | 6;
  src: string;
  dst: string;
  sport?: number;
  dport?: number;
  at?: string;
  /** tcp: the SYN; udp: the first datagram of the flow; icmp-echo: the echo request */
  request?: Journey;
  /** tcp: the SYN-ACK or the RST; udp: the first datagram back */
  reply?: Journey;
  /** retransmitted SYNs, repeated queries */
  retries?: Journey[];
  rttNs?: number;
  error?: IcmpErrorInfo;
  status: ExchangeStatus;
  /** the source lost records while this was open (a full kernel ring): its path and status may be incomplete */
  recordsLost?: boolean;
  /** icmp-echo only, as on Ping */
  icmpId?: number;
  seq?: number;
  fragments?: Journey[];
}

/** Lifetime events end a journey; the others are hops. */
export const LIFETIME_EVENTS = ["kfree_skb", "consume_skb"] as const;
export type LifetimeEvent = (typeof LIFETIME_EVENTS)[number];

/**
 * One decoded hook hit, whatever the source (eBPF, tracefs text, perf output, a capture file).
 * Fields a source does not know are absent. It is also the capture file's line (pktpath NDJSON).
 */
export interface RawEvent {
  /** a HopEvent, or "kfree_skb" / "consume_skb" */
  event: string;
  /** ns since capture start */
  tNs: number;
  /** "0x" + lowercase hex */
  skbaddr: string;
  ifname?: string;
  ifindex?: number;
  netns?: number;
  netnsName?: string;
  len?: number;
  /** the header as this hook saw it (the inner one of an encapsulated packet) */
  packet?: PacketInfo;
  outer?: OuterHeader;
  ttl?: number;
  fragment?: FragmentInfo;
  netfilter?: NetfilterStep;
  /** a netfilter step's chain rewrites headers this way ("masquerade", "snat", "dnat", "redirect") */
  natKind?: string;
  toIfname?: string;
  neighbour?: NeighbourInfo;
  /** the skb this one was cloned from */
  cloneOf?: string;
  /** a new packet at this address (the kernel freed the last one without saying): its journey is over */
  newSkb?: boolean;
  /** records_lost only (`len` records a full kernel ring lost, the last at tNs): when the first was */
  lostFromNs?: number;
  /** kfree_skb only */
  dropReason?: string;
  /** kfree_skb: the netfilter family, table and chain that dropped it */
  rule?: string;
  /** kfree_skb / consume_skb caller, symbolized when possible */
  location?: string;
}

export function isLifetimeEvent(event: string): event is LifetimeEvent {
  return event === "kfree_skb" || event === "consume_skb";
}
