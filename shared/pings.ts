// ICMP echo request/reply pairing. A ping opens when a journey is identified as an echo request and
// pairs with the echo reply that has the addresses swapped and the same id and seq.
import { LruMap } from "./lru.ts";
import type { DropInfo, Journey, Ping, PingStatus } from "./types.ts";

const ECHO_REQUEST = { 4: 8, 6: 128 } as const;
const ECHO_REPLY = { 4: 0, 6: 129 } as const;

export type EchoSide = "request" | "reply";

export function echoSideOf(journey: Journey): EchoSide | undefined {
  const p = journey.packet;
  if (!p?.icmp) return undefined;
  if (p.icmp.type === ECHO_REQUEST[p.family]) return "request";
  if (p.icmp.type === ECHO_REPLY[p.family]) return "reply";
  return undefined;
}

/**
 * The drop that matters for a ping, if any. An echo reply that reaches its host's ICMP layer is handed
 * to raw sockets as a clone first (that is how iputils ping running as root reads it); ping_rcv then
 * finds no ping socket and the kernel frees the original with kfree_skb NO_SOCKET. The reply arrived:
 * the journey keeps the kernel's fact, but the ping is not dropped.
 */
export function effectiveDrop(journey: Journey): DropInfo | undefined {
  const drop = journey.dropped;
  if (!drop) return undefined;
  const reason = drop.reason.replace(/^SKB_DROP_REASON_/, "");
  if (reason === "NO_SOCKET" && echoSideOf(journey) === "reply") return undefined;
  return drop;
}

interface PingState {
  ping: Ping;
  key: string;
  requestTNs: number;
  final: boolean;
}

/** What the journey table can say about a journey: is it still open (still growing)? */
export type IsOpen = (journey: Journey) => boolean;

export class PingTable {
  // Requests waiting for their reply, in the order they were seen (so timeouts expire from the front).
  private readonly awaiting = new LruMap<string, PingState>();
  // Pings of open journeys, to act when the journey ends. Bounded by the journey table's cap.
  private readonly byJourney = new Map<Journey, PingState>();
  private nextId = 1;
  /** Pings finalized early as no-reply because too many requests were waiting. */
  evicted = 0;

  constructor(
    private readonly replyTimeoutNs: number,
    private readonly maxOpen: number,
    private readonly isOpen: IsOpen,
  ) {}

  get size(): number {
    return this.awaiting.size;
  }

  identified(journey: Journey, out: Ping[]): void {
    const side = echoSideOf(journey);
    const p = journey.packet;
    if (!side || !p?.icmp) return;
    if (side === "request") {
      const key = keyOf(p.family, p.src, p.dst, p.icmp.id, p.icmp.seq);
      // A second skb carrying the same request (a clone, a retransmission) keeps the first journey.
      if (this.awaiting.has(key)) return;
      if (this.awaiting.size >= this.maxOpen) this.evictOldest(out);
      const ping: Ping = { id: `p-${this.nextId++}`, family: p.family, src: p.src, dst: p.dst,
        icmpId: p.icmp.id, seq: p.icmp.seq, request: journey, status: "no-reply" };
      const state: PingState = { ping, key, requestTNs: journey.hops[0]?.tNs ?? 0, final: false };
      this.awaiting.set(key, state);
      this.byJourney.set(journey, state);
      return;
    }
    const key = keyOf(p.family, p.dst, p.src, p.icmp.id, p.icmp.seq);
    let state = this.awaiting.get(key);
    if (state) {
      this.awaiting.delete(key);
      state.ping.reply = journey;
    } else {
      // A reply whose request we never saw (capture started late, or the request timed out).
      const ping: Ping = { id: `p-${this.nextId++}`, family: p.family, src: p.dst, dst: p.src,
        icmpId: p.icmp.id, seq: p.icmp.seq, reply: journey, status: "complete" };
      state = { ping, key, requestTNs: journey.hops[0]?.tNs ?? 0, final: false };
    }
    this.byJourney.set(journey, state);
  }

  ended(journey: Journey, out: Ping[]): void {
    const state = this.byJourney.get(journey);
    if (!state) return;
    this.byJourney.delete(journey);
    if (state.final) return;
    if (state.ping.reply === journey) {
      this.finalize(state, effectiveDrop(journey) ? "dropped" : "complete", out);
      return;
    }
    // The request ended. Freed normally it waits for its reply; dropped, no reply can come.
    if (journey.dropped && !state.ping.reply) {
      this.awaiting.delete(state.key);
      this.finalize(state, "dropped", out);
    }
  }

  /** Requests older than replyTimeoutNs at nowNs become no-reply. */
  expire(nowNs: number, out: Ping[]): void {
    for (let first = this.awaiting.oldest(); first; first = this.awaiting.oldest()) {
      const [key, state] = first;
      if (nowNs - state.requestTNs <= this.replyTimeoutNs) break;
      this.awaiting.delete(key);
      this.finalize(state, "no-reply", out);
    }
  }

  /** End of capture: every request still waiting is no-reply. */
  flush(out: Ping[]): void {
    for (const state of this.awaiting.drain()) this.finalize(state, "no-reply", out);
  }

  private evictOldest(out: Ping[]): void {
    const first = this.awaiting.oldest();
    if (!first) return;
    const [key, state] = first;
    this.awaiting.delete(key);
    this.evicted++;
    this.finalize(state, "no-reply", out);
  }

  private finalize(state: PingState, status: PingStatus, out: Ping[]): void {
    state.final = true;
    const { request, reply, ...rest } = state.ping;
    const ping: Ping = { ...rest, status };
    // A journey still open keeps growing; the emitted ping must not change afterwards.
    if (request) ping.request = this.frozen(request);
    if (reply) ping.reply = this.frozen(reply);
    const t0 = request?.hops[0]?.tNs, t1 = reply?.hops[0]?.tNs;
    if (t0 !== undefined && t1 !== undefined) ping.rttNs = t1 - t0;
    out.push(ping);
  }

  private frozen(journey: Journey): Journey {
    return this.isOpen(journey) ? { ...journey, hops: journey.hops.slice() } : journey;
  }
}

function keyOf(family: number, src: string, dst: string, id: number, seq: number): string {
  return `${family}|${src}|${dst}|${id}|${seq}`;
}
