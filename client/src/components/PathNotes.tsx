// What the path says in words, over the map: records the capture lost meanwhile, the drop and its rule, a reply freed after delivery,
// a routing loop, the ICMP error, fragments, NAT and tunnels.
import { fragmentation, headerChanges, routingLoop, tunnelSegments } from "../../../shared/pathNotes.ts";
import { deliveredFree, dropPointOf, dropText, laneLabel, type PathSubject } from "../../../shared/topology.ts";

export function pathNoteLines(s: PathSubject): { kind: string; text: string }[] {
  const out: { kind: string; text: string }[] = [];
  if (s.recordsLost) {
    out.push({ kind: "lost", text: `The capture lost records while this was open (the kernel's ring was full): hops${
      s.status === "complete" ? "" : ", or the answer,"} may be missing, and "${s.status}" is what was left to see.` });
  }
  const drop = dropPointOf(s);
  if (drop) {
    const where = drop.lane ? ` in ${laneLabel(drop.lane)}` : "";
    const after = drop.ifname ? ` after ${drop.ifname}` : "";
    const why = drop.rule ? ` (${drop.reason}${drop.location ? ` at ${drop.location}` : ""})` : drop.location ? ` at ${drop.location}` : "";
    out.push({ kind: "drop", text: `${dropText(drop).replace(/^d/, "D")} on the ${drop.side} path${where}${after}${why}` });
  }
  const loop = routingLoop(s);
  if (loop) out.push({ kind: "loop", text: loop.text.replace(/^r/, "R") });
  if (s.error) out.push({ kind: "error", text: `ICMP error: ${s.error.text} from ${s.error.from} (type ${s.error.type}, code ${s.error.code})` });
  const frag = fragmentation(s);
  if (frag) out.push({ kind: "fragment", text: frag.text.replace(/^f/, "F") });
  for (const c of headerChanges(s)) out.push({ kind: "nat", text: `${c.side}: ${c.text}` });
  for (const t of tunnelSegments(s)) out.push({ kind: "tunnel", text: `${t.side} carried in ${t.text}` });
  const free = deliveredFree(s);
  if (free) {
    out.push({ kind: "free", text: `The ${free.side}'s skb was freed as ${free.reason}${free.location ? ` at ${free.location}` : ""}` +
      " after ping's raw socket got its copy: a delivery, not a drop." });
  }
  return out;
}

export function PathNotes({ subject }: { subject: PathSubject }) {
  const lines = pathNoteLines(subject);
  if (lines.length === 0) return null;
  return (
    <ul className="path-notes">
      {lines.map((l, i) => (
        <li key={i} className={`note note-${l.kind}${l.kind === "drop" ? " drop-note" : ""}`} role={l.kind === "drop" ? "status" : undefined}>{l.text}</li>
      ))}
    </ul>
  );
}
