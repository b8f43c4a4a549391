// Wall-clock time of a capture's events: the source maps its clock to the Unix epoch once (and again
// if the two drift apart); a tNs is then a moment people can read. Pure: the origin is given.

/** Microseconds since the Unix epoch (a number keeps µs exactly up to the year 2255). */
export type UnixMicros = number;

/** "2026-12-02T06:16:51.123456Z": ISO 8601 UTC with microseconds, from µs since the epoch. */
export function isoMicros(us: UnixMicros): string {
  const totalSec = Math.floor(us / 1e6);
  const micros = Math.round(us - totalSec * 1e6);
  const days = Math.floor(totalSec / 86400);
  const secOfDay = totalSec - days * 86400;
  const [y, m, d] = civilFromDays(days);
  const hh = Math.floor(secOfDay / 3600), mm = Math.floor((secOfDay % 3600) / 60), ss = secOfDay % 60;
  const p2 = (n: number): string => String(n).padStart(2, "0");
  return `${String(y).padStart(4, "0")}-${p2(m)}-${p2(d)}T${p2(hh)}:${p2(mm)}:${p2(ss)}.${String(micros).padStart(6, "0")}Z`;
}

/** Days since 1970-01-01 → proleptic Gregorian [year, month, day] (Howard Hinnant's algorithm). */
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

/** µs since the epoch of an ISO 8601 UTC time ("…Z"), or undefined; fractions up to µs kept. */
export function parseIsoMicros(text: string): UnixMicros | undefined {
  const m = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?Z$/.exec(text);
  if (!m) return undefined;
  const [y, mo, d, hh, mi, ss] = m.slice(1, 7).map(Number) as [number, number, number, number, number, number];
  const frac = Number((m[7] ?? "").padEnd(6, "0").slice(0, 6));
  const a = mo <= 2 ? 1 : 0;
  const yy = y - a;
  const era = Math.floor(yy / 400);
  const yoe = yy - era * 400;
  const doy = Math.floor((153 * (mo + (mo > 2 ? -3 : 9)) + 2) / 5) + d - 1;
  const doe = yoe * 365 + Math.floor(yoe / 4) - Math.floor(yoe / 100) + doy;
  const days = era * 146097 + doe - 719468;
  return ((days * 86400 + hh * 3600 + mi * 60 + ss) * 1e6) + frac;
}
