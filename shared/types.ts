// The JSON shapes of ../shared/CONTRACT.md, plus the decoded event every capture source produces.

/** Tracepoint names; other names may appear from imported captures. */
export type HopEvent = "net_dev_queue" | "net_dev_xmit" | "netif_rx" | "netif_receive_skb" | string;

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
}

export interface IcmpInfo {
  type: number;
  id: number;
  seq: number;
}

export interface PacketInfo {
  family: 4 | 6;
  proto: string;
  src: string;
  dst: string;
  icmp?: IcmpInfo;
  sport?: number;
  dport?: number;
}

export interface DropInfo {
  reason: string;
  location?: string;
}

export interface Journey {
  id: string;
  skbaddr: string;
  hops: Hop[];
  dropped?: DropInfo;
  packet?: PacketInfo;
}

export type PingStatus = "complete" | "no-reply" | "dropped";

export interface Ping {
  id: string;
  family: 4 | 6;
  src: string;
  dst: string;
  icmpId: number;
  seq: number;
  request?: Journey;
  reply?: Journey;
  rttNs?: number;
  status: PingStatus;
}

/** Lifetime events end a journey; the others are hops. */
export const LIFETIME_EVENTS = ["kfree_skb", "consume_skb"] as const;
export type LifetimeEvent = (typeof LIFETIME_EVENTS)[number];

/**
 * One decoded tracepoint hit, whatever the source (eBPF ring buffer, tracefs text, perf output, a
 * capture file). Fields a source does not know are absent.
 */
export interface RawEvent {
  /** tracepoint name: a HopEvent, or "kfree_skb" / "consume_skb" */
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
  packet?: PacketInfo;
  /** kfree_skb only */
  dropReason?: string;
  /** kfree_skb / consume_skb caller, symbolized when possible */
  location?: string;
}

export function isLifetimeEvent(event: string): event is LifetimeEvent {
  return event === "kfree_skb" || event === "consume_skb";
}
