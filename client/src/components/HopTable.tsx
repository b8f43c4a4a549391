// Every hop of a ping in causal order, the numbers behind the path view.
import type { Hop, Ping } from "../../../shared/types.ts";
import { pingDrop } from "../drops.ts";
import { formatDeltaNs, formatDurationNs, netnsLabel } from "../format.ts";

interface Row {
  side: "request" | "reply";
  hop: Hop;
}

function rowsOf(ping: Ping): Row[] {
  return (["request", "reply"] as const).flatMap((side) => (ping[side]?.hops ?? []).map((hop) => ({ side, hop })));
}

export function HopTable({ ping }: { ping: Ping }) {
  const rows = rowsOf(ping);
  const t0 = rows[0]?.hop.tNs ?? 0;
  const shown = pingDrop(ping);
  // Every kfree_skb stays visible; one that is not the ping's drop (a delivered reply) is muted.
  const drops = (["request", "reply"] as const).flatMap((side) => {
    const d = ping[side]?.dropped;
    return d ? [{ side, d, real: shown?.side === side }] : [];
  });
  return (
    <table className="hop-table" aria-label="Hops">
      <thead>
        <tr>
          <th scope="col">#</th><th scope="col">side</th><th scope="col">event</th><th scope="col">interface</th>
          <th scope="col" className="num">ifindex</th><th scope="col">namespace</th><th scope="col" className="num">len</th>
          <th scope="col" className="num">t</th><th scope="col" className="num">Δt</th>
        </tr>
      </thead>
      <tbody>
        {rows.map(({ side, hop }, i) => {
          const prev = rows[i - 1];
          return (
            <tr key={`${side}-${i}`} className={`side-${side}`}>
              <td className="num">{i + 1}</td>
              <td><span className={`side-dot side-dot-${side}`} aria-hidden="true" />{side}</td>
              <td className="mono">{hop.event}</td>
              <td className="mono strong">{hop.ifname}</td>
              <td className="num mono">{hop.ifindex ?? "—"}</td>
              <td title={hop.netns !== undefined ? `inode ${hop.netns}` : undefined}>{netnsLabel(hop.netns, hop.netnsName)}</td>
              <td className="num mono">{hop.len}</td>
              <td className="num mono" title={`${hop.tNs} ns since capture start`}>{formatDurationNs(hop.tNs - t0)}</td>
              <td className="num mono">{prev ? formatDeltaNs(hop.tNs - prev.hop.tNs) : ""}</td>
            </tr>
          );
        })}
        {drops.map(({ side, d, real }) => (
          <tr key={`drop-${side}`} className={real ? "drop-row" : "free-row"}>
            <td className="num">{real ? "✕" : ""}</td>
            <td>{side}</td>
            <td colSpan={7} className="mono">
              kfree_skb — {d.reason}{d.location ? ` at ${d.location}` : ""}
              {real ? "" : " (not a drop: the raw socket got its copy)"}
            </td>
          </tr>
        ))}
        {rows.length === 0 && drops.length === 0 && (
          <tr><td colSpan={9} className="empty">No hops recorded for this ping.</td></tr>
        )}
      </tbody>
    </table>
  );
}
