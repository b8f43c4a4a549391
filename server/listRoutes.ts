// The list's routes: GET /api/pings with ?q= (search over the whole store), GET /api/flows (the
// same pings grouped by flow), GET/PUT /api/filter (the capture filter, changed live through an
// injected control) and GET /api/info (what an export says about where it came from).
import { hostname } from "node:os";
import express, { type Router } from "express";
import { asExchange } from "../shared/describe.ts";
import { groupFlows } from "../shared/flows.ts";
import { MAX_QUERY_CHARS, queryWords } from "../shared/search.ts";
import type { Exchange, ExchangeKind, Journey, Ping } from "../shared/types.ts";
import type { ServedPipeline } from "./pipeline.ts";

/** The live capture filter: what it is, and a change that is applied or refused with the parser's message. */
export interface FilterControl {
  current(): string;
  set(expression: string): FilterResult | Promise<FilterResult>;
}
/** `expression`: the filter as applied (canonical); `column`: 0-based offset into what was sent where the parser stopped. */
export type FilterResult = { ok: true; expression: string } | { ok: false; error: string; column: number };

export const MAX_FILTER_CHARS = 1000;
const EMPTY = { pings: [], matched: 0 } as const;

/** When an exchange began: its request's first hop (else its answer's), on the capture's clock. */
function beganNs(x: Exchange): number {
  return x.request?.hops[0]?.tNs ?? x.reply?.hops[0]?.tNs ?? x.error?.journey?.hops[0]?.tNs ?? 0;
}
const MAX_LIMIT = 1000;
const MAX_FLOW_IDS = 100;

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

export function parseLimit(raw: unknown, fallback = 100): { ok: true; value: number } | { ok: false; error: string } {
  if (raw === undefined) return { ok: true, value: fallback };
  const n = typeof raw === "string" && /^\d{1,7}$/.test(raw) ? Number(raw) : NaN;
  if (!(n >= 1 && n <= MAX_LIMIT)) return { ok: false, error: `limit: expected an integer from 1 to ${MAX_LIMIT}` };
  return { ok: true, value: n };
}

export function parseQuery(raw: unknown): { ok: true; value: string[] } | { ok: false; error: string } {
  if (raw === undefined) return { ok: true, value: [] };
  if (typeof raw !== "string") return { ok: false, error: "q: expected one search text" };
  if (raw.length > MAX_QUERY_CHARS) return { ok: false, error: `q: longer than ${MAX_QUERY_CHARS} characters` };
  return { ok: true, value: queryWords(raw) };
}

const KINDS: readonly ExchangeKind[] = ["icmp-echo", "tcp", "udp"];

export function parseKind(raw: unknown): { ok: true; value: ExchangeKind | undefined } | { ok: false; error: string } {
  if (raw === undefined) return { ok: true, value: undefined };
  const kind = KINDS.find((k) => k === raw);
  return kind ? { ok: true, value: kind } : { ok: false, error: `kind: expected one of ${KINDS.join(", ")}` };
}

export function listRoutes(api: Router, pipeline: ServedPipeline, filter?: FilterControl): void {
  api.get("/info", (_req, res) => {
    res.json({ host: hostname(), source: pipeline.source.name });
  });
  api.get("/pings", (req, res) => {
    const limit = parseLimit(req.query.limit), q = parseQuery(req.query.q);
    if (!limit.ok) return void res.status(400).json({ error: limit.error });
    if (!q.ok) return void res.status(400).json({ error: q.error });
    const { store } = pipeline;
    const found = store.search(q.value, limit.value);
    // The body stays the contract's Ping[]; how many there are in all rides in headers.
    res.set({ "X-Total-Count": String(found.matched), "X-Pings-Held": String(store.size), "X-Pings-Seen": String(store.total) });
    res.json(found.pings.map(withoutHops));
  });
  // Exchanges of every kind (CONTRACT.md): the pings, each the icmp-echo exchange it is, and the TCP
  // and UDP ones, held apart (see store.ts) and merged newest first by the time they began.
  api.get("/exchanges", (req, res) => {
    const limit = parseLimit(req.query.limit), q = parseQuery(req.query.q), kind = parseKind(req.query.kind);
    for (const r of [limit, q, kind]) if (!r.ok) return void res.status(400).json({ error: r.error });
    if (!limit.ok || !q.ok || !kind.ok) return;
    const echoes = kind.value === undefined || kind.value === "icmp-echo" ? pipeline.store.search(q.value, limit.value) : EMPTY;
    const others = kind.value !== "icmp-echo" ? pipeline.exchanges.search(q.value, limit.value) : EMPTY;
    const mine = others.pings.filter((x) => kind.value === undefined || x.kind === kind.value);
    const all = [...echoes.pings.map(asExchange), ...mine].sort((x, y) => beganNs(y) - beganNs(x)).slice(0, limit.value);
    res.set({ "X-Total-Count": String(echoes.matched + (kind.value === undefined ? others.matched : mine.length)) });
    res.json(all.map(withoutHops));
  });
  api.get("/exchanges/:id", (req, res) => {
    const found = pipeline.store.get(req.params.id) ?? pipeline.exchanges.get(req.params.id);
    if (found === undefined) return void res.status(404).json({ error: `no exchange ${JSON.stringify(req.params.id)}` });
    res.json(asExchange(found));
  });
  api.get("/flows", (req, res) => {
    const q = parseQuery(req.query.q);
    if (!q.ok) return void res.status(400).json({ error: q.error });
    const { store } = pipeline;
    const found = store.search(q.value, store.capacity);
    const flows = groupFlows(found.pings).map((f) => ({ ...f, ids: f.ids.slice(0, MAX_FLOW_IDS) }));
    res.json({ matched: found.matched, flows });
  });
  // A source without a live filter (a file) still answers, so the page can tell "none" from "broken".
  api.get("/filter", (_req, res) => {
    res.json(filter ? { expression: filter.current(), editable: true } : { expression: "", editable: false });
  });
  api.put("/filter", express.json({ limit: "4kb", type: () => true }), async (req, res) => {
    if (!filter) return void res.status(501).json({ error: "this source has no capture filter to change" });
    const origin = req.headers.origin;
    if (origin !== undefined && origin !== `http://${req.headers.host}` && origin !== `https://${req.headers.host}`) {
      return void res.status(403).json({ error: `Origin ${JSON.stringify(origin)} may not change the filter` });
    }
    const body: unknown = req.body;
    const expression = typeof body === "object" && body !== null && "expression" in body ? body.expression : undefined;
    if (typeof expression !== "string") return void res.status(400).json({ error: "expected { \"expression\": string }", column: 0 });
    if (expression.length > MAX_FILTER_CHARS) {
      return void res.status(400).json({ error: `expression longer than ${MAX_FILTER_CHARS} characters`, column: MAX_FILTER_CHARS });
    }
    const r = await filter.set(expression);
    if (!r.ok) return void res.status(400).json({ error: r.error, column: r.column });
    res.json({ expression: r.expression });
  });
}
