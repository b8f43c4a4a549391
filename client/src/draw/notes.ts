// What the map writes beside the path: where a route ended badly (a drop or no-reply mark after its
// last interface) and the notes of each namespace box (NAT, tunnel, loop, fragments, the ICMP error,
// time at the far end). Pure, read by layout.ts.
import { formatDurationNs } from "../../../shared/describe.ts";
import { fragmentation, headerChanges, routingLoop, tunnelSegments } from "../../../shared/pathNotes.ts";
import { effectiveDrop } from "../../../shared/pings.ts";
import { dropText, journeyOf, type PathSubject, type Side } from "../../../shared/topology.ts";
import type { Hop } from "../../../shared/types.ts";
import type { MarkGeom, NoteGeom, SideVisits } from "./layout.ts";

/** Where each route ended badly: a mark after its last visit, in that visit's namespace. */
export function marksOf(subject: PathSubject, sv: SideVisits[]): { after?: string; lane?: string; mark: MarkGeom }[] {
  const out: { after?: string; lane?: string; mark: MarkGeom }[] = [];
  for (const { side, visits, hops } of sv) {
    const j = journeyOf(subject, side);
    const drop = subject.status === "dropped" && j ? effectiveDrop(j) : undefined;
    if (!drop) continue;
    const mark: MarkGeom = { kind: "drop", side, label: dropText(drop) };
    const detail = drop.rule ? drop.reason : drop.location !== undefined ? `at ${drop.location}` : undefined;
    if (detail) mark.detail = detail;
    const last = visits[visits.length - 1], lastHop = hops[hops.length - 1];
    out.push({ after: last?.node, lane: last?.lane ?? (lastHop ? lanesKey(lastHop) : undefined), mark });
    return out;
  }
  const req = sv.find((s) => s.side === "request");
  if (subject.status === "no-reply" && req) {
    out.push({ after: req.visits[req.visits.length - 1]?.node, lane: req.visits[req.visits.length - 1]?.lane,
      mark: { kind: "no-reply", side: "request", label: "no reply" } });
  }
  return out;
}

export const lanesKey = (h: Hop): string => (h.netns !== undefined ? `ns:${h.netns}` : h.netnsName !== undefined ? `name:${h.netnsName}` : "ns:?");

export function notesOf(subject: PathSubject, sv: SideVisits[]): Map<string, NoteGeom[]> {
  const notes = new Map<string, NoteGeom[]>();
  const add = (lane: string | undefined, note: NoteGeom): void => {
    if (lane === undefined) return;
    notes.set(lane, [...(notes.get(lane) ?? []), note]);
  };
  const hopOf = (side: Side, i: number): Hop | undefined => journeyOf(subject, side)?.hops[i];
  for (const c of headerChanges(subject)) {
    const h = hopOf(c.side, c.hop);
    if (h) add(lanesKey(h), { kind: "nat", text: `${c.text} at ${h.ifname || "stack"}` });
  }
  for (const t of tunnelSegments(subject)) {
    const h = hopOf(t.side, t.first);
    if (h) add(lanesKey(h), { kind: "tunnel", text: t.text });
  }
  const loop = routingLoop(subject);
  if (loop) add(loop.lane, { kind: "loop", text: loop.text });
  const frag = fragmentation(subject);
  if (frag?.fragmentedAt) add(frag.fragmentedAt.lane, { kind: "fragment", text: `split into ${frag.count + 1} fragments at ${frag.fragmentedAt.ifname}` });
  if (frag?.reassembledAt) add(frag.reassembledAt.lane, { kind: "fragment", text: `reassembled at ${frag.reassembledAt.ifname}` });
  const err = subject.error, errFirst = subject.error?.journey?.hops[0];
  if (err && errFirst) add(lanesKey(errFirst), { kind: "error", text: `${err.text.toLowerCase()} from ${err.from}` });
  const req = sv.find((s) => s.side === "request")?.visits.at(-1), back = sv.find((s) => s.side !== "request")?.visits[0];
  if (req && back && req.lane === back.lane) add(req.lane, { kind: "turn", text: `answered after ${formatDurationNs(back.firstTNs - req.lastTNs)}` });
  return notes;
}

