// Display formatting shared by the list, the hop table and the path layout. Pure and deterministic.

/** A duration for humans: µs below a millisecond (one decimal under 10 µs), ms below a second, then s. */
export function formatDurationNs(ns: number): string {
  const abs = Math.abs(ns);
  if (abs < 10_000) return `${(ns / 1000).toFixed(1)} µs`;
  if (abs < 1_000_000) return `${Math.round(ns / 1000)} µs`;
  if (abs < 1_000_000_000) return `${(ns / 1_000_000).toFixed(2)} ms`;
  return `${(ns / 1_000_000_000).toFixed(2)} s`;
}

/** A time step between two hops, always signed so a reordered pair stands out. */
export function formatDeltaNs(ns: number): string {
  return ns >= 0 ? `+${formatDurationNs(ns)}` : `−${formatDurationNs(-ns)}`;
}

/** Capture-relative timestamp in µs with three decimals (ns precision), as the hop table shows it. */
export function formatCaptureTimeNs(tNs: number): string {
  return `${(tNs / 1000).toFixed(3)} µs`;
}

const EVENT_SHORT: Record<string, string> = {
  net_dev_queue: "queue",
  net_dev_xmit: "xmit",
  netif_rx: "rx",
  netif_receive_skb: "receive",
  napi_gro_receive_entry: "gro",
};

/** Short tracepoint name for tight spaces; unknown events keep their own name. */
export function shortEvent(event: string): string {
  return EVENT_SHORT[event] ?? event;
}

/** What a lane or table cell calls a network namespace: its name, else its inode. */
export function netnsLabel(netns: number | undefined, netnsName: string | undefined): string {
  if (netnsName !== undefined && netnsName !== "") return netnsName;
  return netns !== undefined ? `netns ${netns}` : "netns ?";
}

/** Rough width of a text in px for layout decisions (no DOM to measure with). */
export function estimateTextWidth(text: string, fontPx: number): number {
  return Math.ceil(text.length * fontPx * 0.6);
}
