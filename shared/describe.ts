// Words and numbers for people, shared by the page, the CLI and exports: durations, wall-clock times
// in a named zone, and one line per exchange. Pure: the zone is an argument, never the machine's.
import type { Exchange, Journey, PacketInfo, Ping } from "./types.ts";

/**
 * A duration: 850 ns, 15.0 µs, 1.25 ms, 2.000 s. `ascii` spells it for terminals (850ns, 15.0us):
 * same scale, same digits, the unit written without a space or µ.
 */
export function formatDurationNs(ns: number, ascii = false): string {
  const abs = Math.abs(ns);
  const [value, unit] = abs < 1e3 ? [String(Math.round(ns)), "ns"]
    : abs < 1e6 ? [(ns / 1e3).toFixed(1), ascii ? "us" : "µs"]
    : abs < 1e9 ? [(ns / 1e6).toFixed(2), "ms"]
    : [(ns / 1e9).toFixed(3), "s"];
  return ascii ? `${value}${unit}` : `${value} ${unit}`;
}

/** A time step, always signed so a reordered pair stands out. */
export function formatDeltaNs(ns: number): string {
  return ns >= 0 ? `+${formatDurationNs(ns)}` : `−${formatDurationNs(-ns)}`;
}

const ISO = /^(\d{4})-(\d\d)-(\d\d)T(\d\d):(\d\d):(\d\d)(?:\.(\d{1,9}))?Z$/;

/** Days since 1970-01-01 of a proleptic Gregorian date (Hinnant's days_from_civil): no Date, no zone. */
function daysFromCivil(y: number, m: number, d: number): number {
  const yy = m <= 2 ? y - 1 : y;
  const era = Math.floor(yy / 400);
  const yoe = yy - era * 400;
  const doy = Math.floor((153 * (m + (m > 2 ? -3 : 9)) + 2) / 5) + d - 1;
  const doe = yoe * 365 + Math.floor(yoe / 4) - Math.floor(yoe / 100) + doy;
  return era * 146097 + doe - 719468;
}

function civilFromDays(z: number): [number, number, number] {
  const zz = z + 719468;
  const era = Math.floor(zz / 146097);
  const doe = zz - era * 146097;
  const yoe = Math.floor((doe - Math.floor(doe / 1460) + Math.floor(doe / 36524) - Math.floor(doe / 146096)) / 365);
  const doy = doe - (365 * yoe + Math.floor(yoe / 4) - Math.floor(yoe / 100));
  const mp = Math.floor((5 * doy + 2) / 153);
  const d = doy - Math.floor((153 * mp + 2) / 5) + 1;
  const m = mp < 10 ? mp + 3 : mp - 9;
  return [yoe + era * 400 + (m <= 2 ? 1 : 0), m, d];
}

/** Microseconds since the epoch of an ISO 8601 UTC time ("…T06:34:15.123456Z"); undefined if it is not one. */
export function epochUsOf(iso: string): number | undefined {
  const m = ISO.exec(iso);
  if (!m) return undefined;
  const [y, mo, d, h, mi, s] = m.slice(1, 7).map(Number) as [number, number, number, number, number, number];
  if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || s > 60) return undefined;
  const frac = (m[7] ?? "").padEnd(6, "0").slice(0, 6);
  return ((daysFromCivil(y, mo, d) * 24 + h) * 60 + mi) * 60e6 + s * 1e6 + Number(frac);
}

const pad = (n: number, w = 2): string => String(n).padStart(w, "0");

/** The ISO 8601 UTC text (µs) of an epoch-µs instant. */
export function isoOfEpochUs(us: number): string {
  const whole = Math.round(us);
  const days = Math.floor(whole / 86_400e6);
  let rest = whole - days * 86_400e6;
  const [y, m, d] = civilFromDays(days);
  const h = Math.floor(rest / 3600e6);
  rest -= h * 3600e6;
  const mi = Math.floor(rest / 60e6);
  rest -= mi * 60e6;
  const s = Math.floor(rest / 1e6);
  return `${pad(y, 4)}-${pad(m)}-${pad(d)}T${pad(h)}:${pad(mi)}:${pad(s)}.${pad(rest - s * 1e6, 6)}Z`;
}

export interface WallClockOptions {
  /** IANA zone the viewer reads in ("Europe/Berlin", "UTC") */
  timeZone: string;
  /** with the date (lists spanning days, exports); else the time of day only */
  date?: boolean;
  /** digits after the second: 6 (µs, default), 3 (ms) */
  fractionDigits?: 3 | 6;
}

const formatters = new Map<string, Intl.DateTimeFormat>();

function formatterFor(timeZone: string): Intl.DateTimeFormat {
  let f = formatters.get(timeZone);
  if (!f) {
    f = new Intl.DateTimeFormat("en-US", { timeZone, hourCycle: "h23", year: "numeric", month: "2-digit", day: "2-digit",
      hour: "2-digit", minute: "2-digit", second: "2-digit", timeZoneName: "short" });
    formatters.set(timeZone, f);
  }
  return f;
}

/**
 * "2026-12-02 07:34:15.123456 GMT+1" in the viewer's zone, the zone always named. An `at` that is
 * not ISO 8601 UTC is shown as given, so nothing is silently re-read.
 */
export function formatWallClock(at: string | number, opts: WallClockOptions): string {
  const us = typeof at === "number" ? at : epochUsOf(at);
  if (us === undefined) return String(at);
  const ms = Math.floor(us / 1000);
  let parts: Intl.DateTimeFormatPart[];
  try {
    parts = formatterFor(opts.timeZone).formatToParts(ms);
  } catch {
    parts = formatterFor("UTC").formatToParts(ms);
  }
  const get = (type: Intl.DateTimeFormatPartTypes): string => parts.find((p) => p.type === type)?.value ?? "";
  const digits = opts.fractionDigits ?? 6;
  const frac = String(Math.floor(us - Math.floor(us / 1e6) * 1e6)).padStart(6, "0").slice(0, digits);
  const time = `${get("hour")}:${get("minute")}:${get("second")}.${frac}`;
  const day = `${get("year")}-${get("month")}-${get("day")}`;
  return `${opts.date ? `${day} ` : ""}${time} ${get("timeZoneName")}`;
}

/** The wall-clock instant of a hop: the journey's `at` is its first hop; later hops add their tNs. */
export function hopEpochUs(journey: Journey | undefined, tNs: number, anchor?: { at: string; tNs: number }): number | undefined {
  const base = anchor ?? (journey?.at !== undefined && journey.hops[0] ? { at: journey.at, tNs: journey.hops[0].tNs } : undefined);
  if (!base) return undefined;
  const us = epochUsOf(base.at);
  return us === undefined ? undefined : us + (tNs - base.tNs) / 1000;
}

/** A Ping as the icmp-echo Exchange it is (CONTRACT.md); an Exchange as itself. */
export function asExchange(x: Ping | Exchange): Exchange {
  if ("kind" in x) return x;
  const { icmpId, seq, ...rest } = x;
  return { ...rest, kind: "icmp-echo", icmpId, seq };
}

const flagsOf = (p: PacketInfo | undefined): string | undefined => p?.tcpFlags;

function endpoint(addr: string, family: 4 | 6, port: number | undefined): string {
  if (port === undefined) return addr;
  return family === 6 ? `[${addr}]:${port}` : `${addr}:${port}`;
}

/** "tcp 10.0.0.2:51514 → 10.0.1.5:443", "icmp 10.0.0.2 → 10.0.1.5 seq 3", "udp … dns 0x1a2b". */
export function exchangeRoute(x: Exchange): string {
  const proto = x.kind === "icmp-echo" ? (x.family === 6 ? "icmp6" : "icmp") : x.kind;
  const route = `${endpoint(x.src, x.family, x.sport)} → ${endpoint(x.dst, x.family, x.dport)}`;
  const seq = x.kind === "icmp-echo" && x.seq !== undefined ? ` seq ${x.seq}` : "";
  const dns = x.request?.packet?.dnsId;
  return `${proto} ${route}${seq}${dns !== undefined ? ` dns 0x${dns.toString(16).padStart(4, "0")}` : ""}`;
}

/** The TCP flags of the request and the answer: "S → SA", "S → R", "S" (nothing back). */
export function exchangeFlags(x: Exchange): string | undefined {
  if (x.kind !== "tcp") return undefined;
  const req = flagsOf(x.request?.packet), rep = flagsOf(x.reply?.packet);
  if (!req && !rep) return undefined;
  return rep ? `${req ?? "?"} → ${rep}` : req;
}

/** One line: "tcp 10.0.0.2:51514 → 10.0.1.5:443 · S → R · refused". */
export function exchangeLine(x: Exchange): string {
  const flags = exchangeFlags(x);
  return [exchangeRoute(x), flags, x.status].filter((s): s is string => Boolean(s)).join(" · ");
}
