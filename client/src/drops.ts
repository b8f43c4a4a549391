// Which drop a ping shows. The journey keeps every kfree_skb the kernel reported, but an echo reply
// freed as NO_SOCKET after its raw-socket clone was delivered is not a drop (shared/pings.ts says why);
// the path view, the note and the hop table must agree with the ping's status on that.
import { effectiveDrop } from "../../shared/pings.ts";
import type { DropInfo, Ping } from "../../shared/types.ts";

export interface PingDrop {
  side: "request" | "reply";
  drop: DropInfo;
}

export function pingDrop(ping: Ping): PingDrop | undefined {
  if (ping.status !== "dropped") return undefined;
  for (const side of ["request", "reply"] as const) {
    const journey = ping[side];
    const drop = journey ? effectiveDrop(journey) : undefined;
    if (drop) return { side, drop };
  }
  return undefined;
}
