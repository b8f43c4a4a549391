// What to pass on when more pings finish than the next stage can take: the newest, plus the ones that
// did not complete (a drop, an error, no reply: what someone watching is there to see) and the newest
// few of every other ping session (someone's own pings amid another's flood), and how many were left
// out. Pure: the pipeline worker and the stream both sample with it (pings, or anything that has a
// ping's status).
import type { Ping } from "./types.ts";

/** Pings left out by sampling: complete ones, and (past their own bound) ones that did not complete. */
export interface Summarised {
  complete: number;
  other: number;
}

export const NONE_SUMMARISED: Summarised = Object.freeze({ complete: 0, other: 0 });

export function addSummarised(a: Summarised, b: Summarised): Summarised {
  return { complete: a.complete + b.complete, other: a.other + b.other };
}

/** A ping's session: one `ping` process to one address (its ICMP id), what a user picks out. */
export function pingSession(p: Pick<Ping, "family" | "src" | "dst" | "icmpId">): string {
  return `${p.family} ${p.src} ${p.dst} ${p.icmpId}`;
}

/**
 * Of each ping session, at most this many of its newest complete pings are sent as its own (besides
 * the newest overall): a session someone runs by hand (one a second, or four) is sent whole even when
 * a backlog of a second or more finishes at once, and another flood is held to as many.
 */
export const PINGS_PER_SESSION = 8;

/**
 * The newest `newest` pings, and before them the newest `maxOther` that did not complete or are among
 * the PINGS_PER_SESSION newest of a session (`sessionOf`, counting those sent as the newest), in
 * their order (completion order): quiet pings amid someone else's flood are sent, not summarised.
 * What else there was, counted.
 */
export function sampleNewest<T extends Pick<Ping, "status">>(pings: readonly T[], newest: number, maxOther: number,
  sessionOf?: (p: T) => string): { pings: T[]; summarised: Summarised } {
  if (pings.length <= newest) return { pings: [...pings], summarised: { ...NONE_SUMMARISED } };
  const cut = pings.length - newest;
  const older: T[] = [];
  const summarised = { complete: 0, other: 0 };
  const sessions = new Map<string, number>();
  const sent = (session: string): number => sessions.get(session) ?? 0;
  if (sessionOf) for (let i = cut; i < pings.length; i++) {
    const session = sessionOf(pings[i]!);
    sessions.set(session, sent(session) + 1);
  }
  for (let i = cut - 1; i >= 0; i--) {
    const p = pings[i]!;
    if (p.status !== "complete") {
      if (older.length < maxOther) older.push(p);
      else summarised.other++;
      continue;
    }
    const session = sessionOf?.(p);
    if (session !== undefined && older.length < maxOther && sent(session) < PINGS_PER_SESSION) {
      sessions.set(session, sent(session) + 1);
      older.push(p);
    } else summarised.complete++;
  }
  older.reverse();
  for (let i = cut; i < pings.length; i++) older.push(pings[i]!);
  return { pings: older, summarised };
}
