// What the list routes and the stream's snapshots ask of the stores, answered as JSON text where the
// stores are: on the main thread for a file or demo source, in the pipeline worker for a live one
// (server/offload.ts), so a live session's pings are never copied to the thread that serves HTTP.
// The queries carry values already checked (server/listRoutes.ts parses them).
import { asExchange } from "../shared/describe.ts";
import { groupFlows } from "../shared/flows.ts";
import { pingSession, type Summarised } from "../shared/sample.ts";
import type { Exchange, ExchangeKind, Journey, Ping, PingStatus } from "../shared/types.ts";
import type { ExchangeStore, PingStore } from "./store.ts";

export type StoreQuery =
  | { type: "pings"; words: string[]; limit: number }
  | { type: "exchanges"; words: string[]; limit: number; kind: ExchangeKind | undefined }
  | { type: "ping"; id: string }
  | { type: "exchange"; id: string }
  | { type: "flows"; words: string[] }
  /** the newest pings, whole, newest first: a stream snapshot's list */
  | { type: "newest"; limit: number };

/** An HTTP answer: `body` is JSON text. */
export interface StoreAnswer {
  status: number;
  headers?: Record<string, string>;
  body: string;
}

export interface Stores {
  readonly store: PingStore;
  readonly exchanges: ExchangeStore;
}

const MAX_FLOW_IDS = 100;

/** When an exchange began: its request's first hop (else its answer's), on the capture's clock. */
function beganNs(x: Exchange): number {
  return x.request?.hops[0]?.tNs ?? x.reply?.hops[0]?.tNs ?? x.error?.journey?.hops[0]?.tNs ?? 0;
}

type LightJourney = Omit<Journey, "hops">;

function stripHops(j: Journey): LightJourney {
  const { hops: _hops, ...rest } = j;
  return rest;
}

/** Lists drop the hops (of every journey it has): the whole item is one GET …/:id away. */
export function withoutHops(item: Ping | Exchange): Record<string, unknown> {
  const out: Record<string, unknown> = { ...item };
  if (item.request) out.request = stripHops(item.request);
  if (item.reply) out.reply = stripHops(item.reply);
  if (item.fragments) out.fragments = item.fragments.map(stripHops);
  if ("retries" in item && item.retries) out.retries = item.retries.map(stripHops);
  if (item.error?.journey) out.error = { ...item.error, journey: stripHops(item.error.journey) };
  return out;
}

const ok = (value: unknown, headers?: Record<string, string>): StoreAnswer =>
  (headers ? { status: 200, headers, body: JSON.stringify(value) } : { status: 200, body: JSON.stringify(value) });
const notFound = (what: string, id: string): StoreAnswer =>
  ({ status: 404, body: JSON.stringify({ error: `no ${what} ${JSON.stringify(id)}` }) });

/** What the stores answer; a failure inside is a 500 answer, never a throw. */
export function answerQuery(stores: Stores, q: StoreQuery): StoreAnswer {
  try {
    return answer(stores, q);
  } catch (e) {
    return { status: 500, body: JSON.stringify({ error: e instanceof Error ? e.message : String(e) }) };
  }
}

function answer({ store, exchanges }: Stores, q: StoreQuery): StoreAnswer {
  switch (q.type) {
    case "pings": {
      const found = store.search(q.words, q.limit);
      // The body stays the contract's Ping[]; how many there are in all rides in headers.
      return ok(found.pings.map(withoutHops),
        { "X-Total-Count": String(found.matched), "X-Pings-Held": String(store.size), "X-Pings-Seen": String(store.total) });
    }
    case "exchanges": {
      // The pings, each the icmp-echo exchange it is, and the TCP and UDP exchanges, held apart
      // (see store.ts) and merged newest first by the time they began.
      const echoes = q.kind === undefined || q.kind === "icmp-echo" ? store.search(q.words, q.limit) : EMPTY;
      const others = q.kind !== "icmp-echo" ? exchanges.search(q.words, q.limit) : EMPTY;
      const mine = others.pings.filter((x) => q.kind === undefined || x.kind === q.kind);
      const all = [...echoes.pings.map(asExchange), ...mine].sort((x, y) => beganNs(y) - beganNs(x)).slice(0, q.limit);
      return ok(all.map(withoutHops), { "X-Total-Count": String(echoes.matched + (q.kind === undefined ? others.matched : mine.length)) });
    }
    case "ping": {
      const ping = store.get(q.id);
      return ping === undefined ? notFound("ping", q.id) : ok(ping);
    }
    case "exchange": {
      const found = store.get(q.id) ?? exchanges.get(q.id);
      return found === undefined ? notFound("exchange", q.id) : ok(asExchange(found));
    }
    case "flows": {
      const found = store.search(q.words, store.capacity);
      const flows = groupFlows(found.pings).map((f) => ({ ...f, ids: f.ids.slice(0, MAX_FLOW_IDS) }));
      return ok({ matched: found.matched, flows });
    }
    case "newest":
      return ok(store.newest(q.limit));
  }
}

const EMPTY = { pings: [], matched: 0 } as const;

/** The answer a query gets when the stores are gone (the pipeline's worker stopped). */
export const STORES_GONE: StoreAnswer = { status: 503, body: JSON.stringify({ error: "the capture pipeline has stopped" }) };

/** A finished ping as the stream passes it on: its status (to sample by) and its JSON text. */
export interface StreamedPing {
  readonly status: PingStatus;
  /** its ping session (shared/sample.ts), which sampling keeps one of */
  readonly session: string;
  readonly json: string;
}

/** Streamed pings in completion order; `summarised`: the ones left out before them (sampled under a flood). */
export type StreamListener = (pings: StreamedPing[], summarised?: Summarised) => void;

/** A ping of this thread's store, as the stream passes it on: its text is made only if it is sent. */
export function streamedPing(p: Ping): StreamedPing {
  return { status: p.status, session: pingSession(p), get json() { return JSON.stringify(p); } };
}

/** A ping made into text where it was finished (the pipeline worker): what the main thread receives. */
export function textPing(p: Ping): StreamedPing {
  return { status: p.status, session: pingSession(p), json: JSON.stringify(p) };
}
