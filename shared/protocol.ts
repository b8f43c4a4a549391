// The WebSocket protocol of /api/stream: one small versioned module of `type`-tagged unions named by
// direction, parsed at both ends.
import { err, ok, type Result } from "./result.ts";
import type { Summarised } from "./sample.ts";
import type { Ping } from "./types.ts";
import { isObject, parsePing } from "./validate.ts";

export const PROTOCOL_VERSION = 1;
/** Largest client message the server reads; anything bigger is refused unparsed. */
export const MAX_CLIENT_MESSAGE_BYTES = 4096;

/** Where lost events were lost; they add up to CaptureStats.lost. */
export interface LostByCause {
  /** the kernel's ring was full (the reader behind): never read */
  ring: number;
  /** read, then dropped at the server's queue bound (correlation behind) */
  queue: number;
  /** read and not decodable */
  malformed: number;
}

export interface CaptureStats {
  source: string;
  live: boolean;
  /** records the source produced since the capture started: read, plus those the kernel could not store */
  events: number;
  /** events that never reached correlation (events − lost were correlated) */
  lost: number;
  /** lost, by where; absent from older servers */
  lostBy?: LostByCause;
  /** tracked skbs the kernel's table evicted for another (their later hops never recorded, so in neither count) */
  collisions?: number;
  /**
   * packets the filter took that the kernel did not follow: its ring was crowded (correlation
   * behind) and their flow heavy, so one in N of that flow's exchanges was followed, whole (serve
   * samples so under a flood). Never begun, so in neither count. Absent from older servers.
   */
  sampled?: number;
  /** events per second over the last stats interval */
  eventsPerSec: number;
  /** pings the server holds (what GET /api/pings can list and search); absent from older servers */
  pings?: number;
}

/** Server → client. */
export type ServerMessage =
  | { type: "hello"; version: number; stats: CaptureStats }
  /** The newest pings, newest first, sent once after hello and after every resync request. */
  | { type: "snapshot"; pings: Ping[] }
  /**
   * New or changed pings (hops included), in the order they completed. When more finished than a page
   * can draw, they are the newest plus every one that did not complete, and `summarised` counts the
   * ones left out since the last message (complete ones; `other`: past their own bound, rare).
   */
  | { type: "pings"; pings: Ping[]; summarised?: Summarised }
  | { type: "stats"; stats: CaptureStats }
  | { type: "error"; code: ErrorCode; message: string };

/** Client → server. */
export type ClientMessage =
  /** Ask for a fresh snapshot (after a reconnect or a gap). */
  | { type: "resync"; limit: number }
  /** Stop or resume live updates (the snapshot survives). */
  | { type: "pause"; paused: boolean };

export type ErrorCode = "bad_message" | "too_large" | "unsupported_version" | "overloaded";

export const MAX_SNAPSHOT = 1000;

function parseJsonObject(raw: string): Result<Record<string, unknown>> {
  let v: unknown;
  try {
    v = JSON.parse(raw);
  } catch {
    return err("message is not JSON");
  }
  return isObject(v) ? ok(v) : err("message is not a JSON object");
}

export function parseClientMessage(raw: string): Result<ClientMessage> {
  if (raw.length > MAX_CLIENT_MESSAGE_BYTES) return err(`message longer than ${MAX_CLIENT_MESSAGE_BYTES} bytes`);
  const parsed = parseJsonObject(raw);
  if (!parsed.ok) return parsed;
  const v = parsed.value;
  switch (v.type) {
    case "resync": {
      const limit = v.limit;
      if (typeof limit !== "number" || !Number.isInteger(limit) || limit < 1 || limit > MAX_SNAPSHOT) {
        return err(`resync.limit: expected an integer from 1 to ${MAX_SNAPSHOT}`);
      }
      return ok({ type: "resync", limit });
    }
    case "pause":
      if (typeof v.paused !== "boolean") return err("pause.paused: expected a boolean");
      return ok({ type: "pause", paused: v.paused });
    default:
      return err(`unknown message type ${JSON.stringify(String(v.type)).slice(0, 40)}`);
  }
}

const isCount = (n: unknown): n is number => typeof n === "number" && Number.isInteger(n) && n >= 0;

function parseLostBy(v: unknown): Result<LostByCause> {
  if (!isObject(v)) return err("stats.lostBy: expected an object");
  const { ring, queue, malformed } = v;
  if (!isCount(ring)) return err("stats.lostBy.ring: expected a count");
  if (!isCount(queue)) return err("stats.lostBy.queue: expected a count");
  if (!isCount(malformed)) return err("stats.lostBy.malformed: expected a count");
  return ok({ ring, queue, malformed });
}

function parseStats(v: unknown): Result<CaptureStats> {
  if (!isObject(v)) return err("stats: expected an object");
  const { source, live, events, lost, eventsPerSec } = v;
  if (typeof source !== "string") return err("stats.source: expected a string");
  if (typeof live !== "boolean") return err("stats.live: expected a boolean");
  for (const [k, n] of Object.entries({ events, lost, eventsPerSec })) {
    if (typeof n !== "number" || !Number.isFinite(n)) return err(`stats.${k}: expected a number`);
  }
  const out: CaptureStats = { source, live, events: Number(events), lost: Number(lost), eventsPerSec: Number(eventsPerSec) };
  if (v.lostBy !== undefined) {
    const lostBy = parseLostBy(v.lostBy);
    if (!lostBy.ok) return lostBy;
    out.lostBy = lostBy.value;
  }
  if (v.collisions !== undefined) {
    if (!isCount(v.collisions)) return err("stats.collisions: expected a count");
    out.collisions = v.collisions;
  }
  if (v.sampled !== undefined) {
    if (!isCount(v.sampled)) return err("stats.sampled: expected a count");
    out.sampled = v.sampled;
  }
  if (v.pings !== undefined) {
    if (!isCount(v.pings)) return err("stats.pings: expected a count");
    out.pings = v.pings;
  }
  return ok(out);
}

function parsePings(v: unknown): Result<Ping[]> {
  if (!Array.isArray(v)) return err("pings: expected an array");
  const out: Ping[] = [];
  for (const [i, p] of v.entries()) {
    const r = parsePing(p, `pings[${i}]`);
    if (!r.ok) return r;
    out.push(r.value);
  }
  return ok(out);
}

const ERROR_CODES: readonly ErrorCode[] = ["bad_message", "too_large", "unsupported_version", "overloaded"];
const isErrorCode = (v: unknown): v is ErrorCode => ERROR_CODES.some((c) => c === v);

export function parseServerMessage(raw: string): Result<ServerMessage> {
  const parsed = parseJsonObject(raw);
  if (!parsed.ok) return parsed;
  const v = parsed.value;
  switch (v.type) {
    case "hello": {
      if (v.version !== PROTOCOL_VERSION) return err(`unsupported protocol version ${String(v.version)}`);
      const stats = parseStats(v.stats);
      return stats.ok ? ok({ type: "hello", version: PROTOCOL_VERSION, stats: stats.value }) : stats;
    }
    case "snapshot": {
      const pings = parsePings(v.pings);
      return pings.ok ? ok({ type: "snapshot", pings: pings.value }) : pings;
    }
    case "pings": {
      const pings = parsePings(v.pings);
      if (!pings.ok) return pings;
      if (v.summarised === undefined) return ok({ type: "pings", pings: pings.value });
      const s = v.summarised;
      if (!isObject(s) || !isCount(s.complete) || !isCount(s.other)) return err("pings.summarised: expected { complete, other } counts");
      return ok({ type: "pings", pings: pings.value, summarised: { complete: s.complete, other: s.other } });
    }
    case "stats": {
      const stats = parseStats(v.stats);
      return stats.ok ? ok({ type: "stats", stats: stats.value }) : stats;
    }
    case "error": {
      const code = v.code;
      if (!isErrorCode(code)) return err("error.code: unknown code");
      if (typeof v.message !== "string") return err("error.message: expected a string");
      return ok({ type: "error", code, message: v.message });
    }
    default:
      return err(`unknown message type ${JSON.stringify(String(v.type)).slice(0, 40)}`);
  }
}
