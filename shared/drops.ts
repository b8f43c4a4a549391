// Which kfree_skb of a journey is a drop that matters: the kernel says NO_SOCKET also where the
// packet arrived. Pure.
import type { DropInfo, Journey } from "./types.ts";

const ECHO_REQUEST = { 4: 8, 6: 128 } as const;
const ECHO_REPLY = { 4: 0, 6: 129 } as const;

export type EchoSide = "request" | "reply";

/** Echo request or reply, by the journey's latest header (a fragment's skb is whole once reassembled). */
export function echoSideOf(journey: Journey): EchoSide | undefined {
  let p = journey.packet;
  for (const h of journey.hops) if (h.packet) p = h.packet;
  if (!p?.icmp) return undefined;
  if (p.icmp.type === ECHO_REQUEST[p.family]) return "request";
  if (p.icmp.type === ECHO_REPLY[p.family]) return "reply";
  return undefined;
}

/**
 * The drop that matters for an exchange, if any. An echo reply that reaches its host's ICMP layer is
 * handed to raw sockets as a clone first (that is how iputils ping running as root reads it);
 * ping_rcv then finds no ping socket and the kernel frees the original with kfree_skb NO_SOCKET. The
 * reply arrived: the journey keeps the kernel's fact, but it is not a drop.
 */
export function effectiveDrop(journey: Journey): DropInfo | undefined {
  const drop = journey.dropped;
  if (!drop) return undefined;
  const reason = drop.reason.replace(/^SKB_DROP_REASON_/, "");
  if (reason === "NO_SOCKET" && echoSideOf(journey) === "reply") return undefined;
  // The fragments a packet was reassembled from go with it: freed by skb_release_data when the whole
  // packet is (the kernel says NOT_SPECIFIED), they were not dropped.
  if (journey.fragment && drop.location?.startsWith("skb_release_data")) return undefined;
  return drop;
}
