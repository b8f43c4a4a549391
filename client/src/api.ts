// REST calls of the dashboard, parsed at the boundary like everything else that comes off the wire,
// and the page's links (#/ping/<id>, with what the link was about so it still says so after a 404).
import { err, ok, type Result } from "../../shared/result.ts";
import type { FlowGroup } from "../../shared/flows.ts";
import type { Exchange, Ping } from "../../shared/types.ts";
import { isObject, parseExchange, parsePing } from "../../shared/validate.ts";

/** Query string carrying the page's ?token= to the API when the server asks for one. */
export function tokenQuery(sep: "?" | "&" = "?"): string {
  const token = new URLSearchParams(location.search).get("token");
  return token ? `${sep}token=${encodeURIComponent(token)}` : "";
}

async function getJson(path: string, signal?: AbortSignal): Promise<Result<{ status: number; body: unknown; headers: Headers }>> {
  let res: Response;
  try {
    res = await fetch(`${path}${tokenQuery(path.includes("?") ? "&" : "?")}`, { signal, headers: { accept: "application/json" } });
  } catch (e) {
    return err(`could not reach the server: ${e instanceof Error ? e.message : String(e)}`);
  }
  let body: unknown;
  try {
    body = await res.json();
  } catch {
    return err(`GET ${path} did not answer JSON (${res.status})`);
  }
  return ok({ status: res.status, body, headers: res.headers });
}

export type PingAnswer = { kind: "ping"; ping: Ping | Exchange } | { kind: "gone" } | { kind: "error"; error: string };

/** A ping by id, else an exchange (TCP, UDP) by that id; "gone" when the server knows neither. */
export async function fetchPing(id: string, signal?: AbortSignal, kind?: Exchange["kind"]): Promise<PingAnswer> {
  // A TCP or UDP exchange the list holds is no ping: ask where it is (a 404 first is a console error).
  if (kind === "tcp" || kind === "udp") return fetchExchange(id, signal);
  const r = await getJson(`/api/pings/${encodeURIComponent(id)}`, signal);
  if (!r.ok) return { kind: "error", error: r.error };
  if (r.value.status === 404) return fetchExchange(id, signal);
  if (r.value.status !== 200) return { kind: "error", error: `GET /api/pings/${id} answered ${r.value.status}` };
  const p = parsePing(r.value.body);
  return p.ok ? { kind: "ping", ping: p.value } : { kind: "error", error: p.error };
}

async function fetchExchange(id: string, signal?: AbortSignal): Promise<PingAnswer> {
  const r = await getJson(`/api/exchanges/${encodeURIComponent(id)}`, signal);
  if (!r.ok || r.value.status === 404) return { kind: "gone" };
  if (r.value.status !== 200) return { kind: "error", error: `GET /api/exchanges/${id} answered ${r.value.status}` };
  const x = parseExchange(r.value.body);
  return x.ok ? { kind: "ping", ping: x.value } : { kind: "error", error: x.error };
}

/**
 * GET /api/exchanges: the newest exchanges of every kind; "unsupported" from a server without the
 * route (the stream carries pings only, so TCP and UDP come this way).
 */
export async function fetchExchanges(kind: "tcp" | "udp", limit: number, signal?: AbortSignal): Promise<Result<Exchange[] | "unsupported">> {
  const r = await getJson(`/api/exchanges?kind=${kind}&limit=${limit}`, signal);
  if (!r.ok) return r;
  if (r.value.status === 404 || r.value.status === 501) return ok("unsupported");
  if (r.value.status !== 200 || !Array.isArray(r.value.body)) return err(`GET /api/exchanges answered ${r.value.status}`);
  const out: Exchange[] = [];
  for (const [i, v] of r.value.body.entries()) {
    const x = parseExchange(v, `exchanges[${i}]`);
    if (!x.ok) return x;
    out.push(x.value);
  }
  return ok(out);
}

export interface SearchAnswer {
  pings: Ping[];
  /** how many the server holds that match */
  matched: number;
}

export async function searchPings(q: string, limit: number, signal?: AbortSignal): Promise<Result<SearchAnswer>> {
  const r = await getJson(`/api/pings?limit=${limit}&q=${encodeURIComponent(q)}`, signal);
  if (!r.ok) return r;
  const { status, body, headers } = r.value;
  if (status !== 200) return err(isObject(body) && typeof body.error === "string" ? body.error : `search answered ${status}`);
  if (!Array.isArray(body)) return err("search did not answer a list");
  const pings: Ping[] = [];
  for (const [i, v] of body.entries()) {
    const p = parsePing(v, `pings[${i}]`);
    if (!p.ok) return p;
    pings.push(p.value);
  }
  const matched = Number(headers.get("x-total-count"));
  return ok({ pings, matched: Number.isFinite(matched) ? matched : pings.length });
}

/** GET /api/flows?q=: every held ping matching, grouped by flow. */
export async function fetchFlows(q: string, signal?: AbortSignal): Promise<Result<{ matched: number; flows: FlowGroup[] }>> {
  const r = await getJson(`/api/flows?q=${encodeURIComponent(q)}`, signal);
  if (!r.ok) return r;
  const { status, body } = r.value;
  if (status !== 200 || !isObject(body) || !Array.isArray(body.flows) || typeof body.matched !== "number") return err(`flows answered ${status}`);
  const flows: FlowGroup[] = [];
  for (const [i, f] of body.flows.entries()) {
    const g = parseFlow(f);
    if (!g) return err(`flows[${i}]: not a flow group`);
    flows.push(g);
  }
  return ok({ matched: body.matched, flows });
}

const KINDS = ["icmp-echo", "tcp", "udp"] as const;

function parseFlow(v: unknown): FlowGroup | undefined {
  if (!isObject(v)) return undefined;
  const { key, kind, family, src, dst, dport, count, dropped, errors, noReply, refused, rttP50Ns, rttP99Ns, ids } = v;
  const k = KINDS.find((x) => x === kind);
  const counts = [count, dropped, errors, noReply, refused];
  if (typeof key !== "string" || !k || (family !== 4 && family !== 6) || typeof src !== "string" || typeof dst !== "string") return undefined;
  if (!counts.every((c) => typeof c === "number") || !Array.isArray(ids) || !ids.every((i) => typeof i === "string")) return undefined;
  const g: FlowGroup = { key, kind: k, family, src, dst, count: Number(count), dropped: Number(dropped), errors: Number(errors),
    noReply: Number(noReply), refused: Number(refused), ids: ids.map(String) };
  if (typeof dport === "number") g.dport = dport;
  if (typeof rttP50Ns === "number") g.rttP50Ns = rttP50Ns;
  if (typeof rttP99Ns === "number") g.rttP99Ns = rttP99Ns;
  return g;
}

export interface ServerInfo {
  host: string;
  source: string;
}

export async function fetchInfo(): Promise<ServerInfo | undefined> {
  const r = await getJson("/api/info");
  if (!r.ok || !isObject(r.value.body)) return undefined;
  const { host, source } = r.value.body;
  return typeof host === "string" && typeof source === "string" ? { host, source } : undefined;
}

export type FilterAnswer = { ok: true; expression: string } | { ok: false; error: string; column?: number } | { ok: "unsupported" };

export async function getFilter(): Promise<FilterAnswer> {
  const r = await getJson("/api/filter");
  if (!r.ok) return { ok: false, error: r.error };
  return parseFilterAnswer(r.value.status, r.value.body);
}

export async function putFilter(expression: string): Promise<FilterAnswer> {
  let res: Response;
  try {
    res = await fetch(`/api/filter${tokenQuery()}`, { method: "PUT", headers: { "content-type": "application/json" },
      body: JSON.stringify({ expression }) });
  } catch (e) {
    return { ok: false, error: `could not reach the server: ${e instanceof Error ? e.message : String(e)}` };
  }
  const body: unknown = await res.json().catch(() => undefined);
  return parseFilterAnswer(res.status, body);
}

function parseFilterAnswer(status: number, body: unknown): FilterAnswer {
  if (status === 501) return { ok: "unsupported" };
  if (!isObject(body)) return { ok: false, error: `the server answered ${status} without JSON` };
  if (status === 200 && body.editable === false) return { ok: "unsupported" };
  if (status === 200 && typeof body.expression === "string") return { ok: true, expression: body.expression };
  const error = typeof body.error === "string" ? body.error : `the server answered ${status}`;
  return typeof body.column === "number" ? { ok: false, error, column: body.column } : { ok: false, error };
}

/**
 * "Save capture": the browser downloads GET /api/capture itself (Content-Disposition names the file),
 * so a capture of any size goes straight to disk instead of through page memory.
 */
export function downloadCapture(): void {
  const a = document.createElement("a");
  a.href = `/api/capture${tokenQuery()}`;
  a.download = "";
  a.click();
}

/** What a link says about its ping, so a link to a ping the server no longer has still says what it was. */
export interface PingLink {
  id: string;
  at?: string;
  what?: string;
}

/** `#/ping/<id>` or `#/ping/<id>?at=…&what=…` → the link; anything else → undefined. */
export function linkFromHash(hash: string): PingLink | undefined {
  const m = /^#\/ping\/([^/?#]+)(?:\?(.*))?$/.exec(hash);
  if (!m?.[1]) return undefined;
  try {
    const link: PingLink = { id: decodeURIComponent(m[1]) };
    const params = new URLSearchParams(m[2] ?? "");
    const at = params.get("at"), what = params.get("what");
    if (at) link.at = at.slice(0, 40);
    if (what) link.what = what.slice(0, 200);
    return link;
  } catch {
    return undefined;
  }
}

export function hashForPing(id: string, about?: { at?: string; what?: string }): string {
  const params = new URLSearchParams();
  if (about?.at) params.set("at", about.at);
  if (about?.what) params.set("what", about.what);
  const q = params.toString();
  return `#/ping/${encodeURIComponent(id)}${q ? `?${q}` : ""}`;
}
