// The list's routes: GET /api/pings with ?q= (search over the whole store), GET /api/flows (the
// same pings grouped by flow), GET/PUT /api/filter (the capture filter, changed live through an
// injected control) and GET /api/info (what an export says about where it came from).
import { hostname } from "node:os";
import express, { type Router } from "express";
import { groupFlows } from "../shared/flows.ts";
import { MAX_QUERY_CHARS, queryWords } from "../shared/search.ts";
import type { Journey, Ping } from "../shared/types.ts";
import type { Pipeline } from "./pipeline.ts";

/** The live capture filter: what it is, and a change that is applied or refused with the parser's message. */
export interface FilterControl {
  current(): string;
  set(expression: string): FilterResult | Promise<FilterResult>;
}
export type FilterResult = { ok: true; expression: string } | { ok: false; error: string; column: number };

export const MAX_FILTER_CHARS = 1000;
const MAX_LIMIT = 1000;
const MAX_FLOW_IDS = 100;

type LightJourney = Omit<Journey, "hops">;
type LightPing = Omit<Ping, "request" | "reply" | "fragments" | "error"> & {
  request?: LightJourney; reply?: LightJourney; fragments?: LightJourney[]; error?: Omit<NonNullable<Ping["error"]>, "journey"> & { journey?: LightJourney };
};

function stripHops(j: Journey): LightJourney {
  const { hops: _hops, ...rest } = j;
  return rest;
}

/** Lists drop the hops: the full ping is one GET /api/pings/:id away. */
export function withoutHops(ping: Ping): LightPing {
  const { request, reply, fragments, error, ...rest } = ping;
  const light: LightPing = rest;
  if (request) light.request = stripHops(request);
  if (reply) light.reply = stripHops(reply);
  if (fragments) light.fragments = fragments.map(stripHops);
  if (error) {
    const { journey, ...e } = error;
    light.error = journey ? { ...e, journey: stripHops(journey) } : e;
  }
  return light;
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

export function listRoutes(api: Router, pipeline: Pipeline, filter?: FilterControl): void {
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
