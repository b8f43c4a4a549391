// The list's routes: GET /api/pings with ?q= (search over the whole store), GET /api/flows (the
// same pings grouped by flow), GET /api/exchanges[/:id] (all three answered where the stores are:
// server/storeQuery.ts), GET/PUT /api/filter (the capture filter, changed live through an injected
// control) and GET /api/info (what an export says about where it came from).
import { hostname } from "node:os";
import express, { type Response, type Router } from "express";
import { MAX_QUERY_CHARS, queryWords } from "../shared/search.ts";
import type { ExchangeKind } from "../shared/types.ts";
import type { ServedPipeline } from "./pipeline.ts";
import type { StoreAnswer } from "./storeQuery.ts";

/** The live capture filter: what it is, and a change that is applied or refused with the parser's message. */
export interface FilterControl {
  current(): string;
  set(expression: string): FilterResult | Promise<FilterResult>;
}
/** `expression`: the filter as applied (canonical); `column`: 0-based offset into what was sent where the parser stopped. */
export type FilterResult = { ok: true; expression: string } | { ok: false; error: string; column: number };

export const MAX_FILTER_CHARS = 1000;
const MAX_LIMIT = 1000;

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

/** A store's answer as the route's response: its status, headers and JSON text. */
export function send(res: Response, answer: StoreAnswer): void {
  res.status(answer.status);
  if (answer.headers) res.set(answer.headers);
  res.type("json").send(answer.body);
}

export function listRoutes(api: Router, pipeline: ServedPipeline, filter?: FilterControl): void {
  api.get("/info", (_req, res) => {
    res.json({ host: hostname(), source: pipeline.source.name });
  });
  api.get("/pings", async (req, res) => {
    const limit = parseLimit(req.query.limit), q = parseQuery(req.query.q);
    if (!limit.ok) return void res.status(400).json({ error: limit.error });
    if (!q.ok) return void res.status(400).json({ error: q.error });
    send(res, await pipeline.query({ type: "pings", words: q.value, limit: limit.value }));
  });
  // Exchanges of every kind (CONTRACT.md): the pings and the TCP and UDP ones (server/storeQuery.ts).
  api.get("/exchanges", async (req, res) => {
    const limit = parseLimit(req.query.limit), q = parseQuery(req.query.q), kind = parseKind(req.query.kind);
    for (const r of [limit, q, kind]) if (!r.ok) return void res.status(400).json({ error: r.error });
    if (!limit.ok || !q.ok || !kind.ok) return;
    send(res, await pipeline.query({ type: "exchanges", words: q.value, limit: limit.value, kind: kind.value }));
  });
  api.get("/exchanges/:id", async (req, res) => {
    send(res, await pipeline.query({ type: "exchange", id: req.params.id }));
  });
  api.get("/flows", async (req, res) => {
    const q = parseQuery(req.query.q);
    if (!q.ok) return void res.status(400).json({ error: q.error });
    send(res, await pipeline.query({ type: "flows", words: q.value }));
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
