// Every step of an exchange in causal order, the numbers behind the map: where, what, the header at
// that hop (NAT shows), TTL, and time: the first hop's wall clock in the viewer's zone, then deltas.
import { formatDeltaNs, formatWallClock, hopEpochUs } from "../../../shared/describe.ts";
import { headersOf, stepLabel } from "../../../shared/pathNotes.ts";
import { effectiveDrop } from "../../../shared/pings.ts";
import { dropText, journeyOf, laneKeyOf, laneLabel, lanesOf, SIDES, type PathSubject, type Side } from "../../../shared/topology.ts";
import type { Hop, Journey, PacketInfo } from "../../../shared/types.ts";

interface Row {
  side: Side;
  hop: Hop;
  journey: Journey;
  /** the header at this hop */
  header: PacketInfo | undefined;
}

const withPort = (a: string, p: number | undefined): string => (p === undefined ? a : `${a}:${p}`);

export function HopTable({ subject, zone }: { subject: PathSubject; zone: string }) {
  const rows: Row[] = SIDES.flatMap((side) => {
    const journey = journeyOf(subject, side);
    if (!journey) return [];
    const headers = headersOf(journey);
    return journey.hops.map((hop, i) => ({ side, hop, journey, header: headers[i] }));
  });
  const names = new Map(lanesOf(subject).map((l) => [l.key, laneLabel(l)]));
  const first = rows[0];
  const t0 = first?.hop.tNs ?? 0;
  // A journey's own `at` is its first hop; else the exchange's, which is the request's first hop.
  const at = subject.at;
  const t0Us = first ? hopEpochUs(first.journey, t0) ?? (at !== undefined && first.side === "request" ? hopEpochUs(undefined, t0, { at, tNs: t0 }) : undefined)
    : undefined;
  const drops = SIDES.flatMap((side) => {
    const d = journeyOf(subject, side)?.dropped;
    const j = journeyOf(subject, side);
    return d && j ? [{ side, d, real: subject.status === "dropped" && effectiveDrop(j) !== undefined }] : [];
  });
  return (
    <table className="hop-table" aria-label="Hops">
      <thead>
        <tr>
          <th scope="col">#</th><th scope="col">side</th><th scope="col">step</th><th scope="col">interface</th>
          <th scope="col">namespace</th><th scope="col">header</th><th scope="col" className="num">ttl</th>
          <th scope="col" className="num">len</th><th scope="col" className="num">time ({zone})</th><th scope="col" className="num">Δt</th>
        </tr>
      </thead>
      <tbody>
        {rows.map(({ side, hop, journey, header: h }, i) => {
          const prev = rows[i - 1];
          const changed = h !== journey.packet;
          return (
            <tr key={`${side}-${i}`} className={`side-${side}`}>
              <td className="num">{i + 1}</td>
              <td><span className={`side-dot side-dot-${side}`} aria-hidden="true" />{side}</td>
              <td className="mono" title={hop.event}>{stepLabel(hop)}{hop.outer ? <span className="tag tunnel"> {hop.outer.kind}{hop.outer.vni !== undefined ? ` ${hop.outer.vni}` : ""}</span> : null}
                {hop.fragment ? <span className="tag"> frag @{hop.fragment.offset}{hop.fragment.more ? "+" : ""}</span> : null}</td>
              <td className="mono strong">{hop.ifname || "—"}{hop.toIfname ? ` → ${hop.toIfname}` : ""}</td>
              <td title={hop.netns !== undefined ? `inode ${hop.netns}` : undefined}>{names.get(laneKeyOf(hop)) ?? "?"}</td>
              <td className={`mono${changed ? " nat" : ""}`}>{h ? `${withPort(h.src, h.sport)} → ${withPort(h.dst, h.dport)}` : "—"}</td>
              <td className="num mono">{hop.ttl ?? "—"}</td>
              <td className="num mono">{hop.len}</td>
              <td className="num mono" title={`${hop.tNs} ns since capture start`}>
                {i === 0 ? (t0Us !== undefined ? formatWallClock(t0Us, { timeZone: zone }) : "+0 ns") : formatDeltaNs(hop.tNs - t0)}
              </td>
              <td className="num mono">{prev ? formatDeltaNs(hop.tNs - prev.hop.tNs) : ""}</td>
            </tr>
          );
        })}
        {drops.map(({ side, d, real }) => (
          <tr key={`drop-${side}`} className={real ? "drop-row" : "free-row"}>
            <td className="num">{real ? "✕" : ""}</td>
            <td>{side}</td>
            <td colSpan={8} className="mono">
              kfree_skb — {real ? `${dropText(d)}${d.rule ? ` (${d.reason})` : ""}` : d.reason}{d.location ? ` at ${d.location}` : ""}
              {real ? "" : " (not a drop: the raw socket got its copy)"}
            </td>
          </tr>
        ))}
        {rows.length === 0 && drops.length === 0 && (
          <tr><td colSpan={10} className="empty">No hops recorded.</td></tr>
        )}
      </tbody>
    </table>
  );
}
