// Text captures made elsewhere: `perf trace` (both layouts), `perf script`, tracefs trace/trace_pipe.
// One line in, one RawEvent (or nothing, or an error) out. Pure: timestamps stay as the tool wrote them
// and the caller makes them relative to the capture's first event.
import { err, ok, type Result } from "../result.ts";
import type { RawEvent } from "../types.ts";

export type TextFormat = "perf-trace" | "perf-script" | "tracefs";

/** Events that become hops or end journeys; every other tracepoint in the file is passed over. */
const WANTED = new Set([
  "net_dev_queue", "net_dev_xmit", "netif_rx", "netif_receive_skb", "napi_gro_receive_entry",
  "kfree_skb", "consume_skb",
]);

export interface ParsedLine {
  /** ns in the tool's own clock (perf trace: since its start; the others: since boot) */
  clockNs: number;
  event: Omit<RawEvent, "tNs">;
}

/** null: a line that carries no event of ours (header, comment, other tracepoint, blank). */
export type LineResult = Result<ParsedLine | null>;

// perf trace, perf 6.x layout:   0.000 ping/6275 net:net_dev_queue(skbaddr: 0xffff…, len: 98, name: "lo")
const PERF_TRACE_NEW = /^\s*(\d+\.\d+)\s+(?:\(\s*[\d.]+\s*ms\):\s*)?(?:\S+\/\d+\s+)?(\w+):(\w+)\((.*)\)\s*$/;
// perf trace, older layout:      0.000 net:net_dev_queue:       dev=cali6… skbaddr=0xffff… len=98
const PERF_TRACE_OLD = /^\s*(\d+\.\d+)\s+(?:\S+\/\d+\s+)?(\w+):(\w+):\s+(.*)$/;
// perf script:                  ping  6291 [001]   319.874033:   net:net_dev_queue: dev=lo skbaddr=0x… len=98
const PERF_SCRIPT = /^\s*\S.*?\s+\d+\s+\[\d+\]\s+(\d+\.\d+):\s+(\w+):(\w+):\s*(.*)$/;
// tracefs:                      ping-6296    [000] b....   321.678252: net_dev_queue: dev=lo skbaddr=0000… len=98
const TRACEFS = /^\s*\S.*?-\d+\s+(?:\(\s*\S+\)\s+)?\[\d+\]\s+(?:[\w.]{4,6}\s+)?(\d+\.\d+):\s+(\w+):\s*(.*)$/;

export function detectFormat(line: string): TextFormat | null {
  if (PERF_SCRIPT.test(line)) return "perf-script";
  if (TRACEFS.test(line)) return "tracefs";
  if (PERF_TRACE_NEW.test(line) || PERF_TRACE_OLD.test(line)) return "perf-trace";
  return null;
}

function isSkippable(line: string): boolean {
  const t = line.trim();
  return t === "" || t.startsWith("#") || t.startsWith("CPU:") || /^CPU \d+ is empty$/.test(t);
}

export function parseTextLine(line: string, format: TextFormat): LineResult {
  if (isSkippable(line)) return ok(null);
  switch (format) {
    case "perf-trace":
      return parsePerfTrace(line);
    case "perf-script": {
      const m = PERF_SCRIPT.exec(line);
      if (!m) return err("not a perf script event line");
      return fromFields(seconds(m[1]!), m[3]!, keyEquals(m[4]!));
    }
    case "tracefs": {
      const m = TRACEFS.exec(line);
      if (!m) return err("not a tracefs event line");
      return fromFields(seconds(m[1]!), m[2]!, keyEquals(m[3]!));
    }
  }
}

function parsePerfTrace(line: string): LineResult {
  const n = PERF_TRACE_NEW.exec(line);
  if (n) return fromFields(millis(n[1]!), n[3]!, keyColon(n[4]!));
  const o = PERF_TRACE_OLD.exec(line);
  if (o) return fromFields(millis(o[1]!), o[3]!, keyEquals(o[4]!));
  // perf trace also prints syscalls and its own notes; only tracepoint-looking lines are errors.
  return /\w+:\w+/.test(line) && /^\s*\d+\.\d+\s/.test(line) ? err("not a perf trace event line") : ok(null);
}

/** "321.678252" s → ns, exactly (no float rounding of the fraction). */
function seconds(text: string): number {
  const [whole, frac = ""] = text.split(".");
  return Number(whole) * 1e9 + Number(frac.padEnd(9, "0").slice(0, 9));
}

/** "0.031" ms → ns */
function millis(text: string): number {
  const [whole, frac = ""] = text.split(".");
  return Number(whole) * 1e6 + Number(frac.padEnd(6, "0").slice(0, 6));
}

/** `dev=lo skbaddr=0x… len=98 … reason: NO_SOCKET` */
function keyEquals(text: string): Map<string, string> {
  const fields = new Map<string, string>();
  for (const m of text.matchAll(/(\w+)=(\S*)/g)) fields.set(m[1]!, m[2]!);
  const reason = /reason:\s*(\S+)/.exec(text);
  if (reason) fields.set("reason", reason[1]!);
  return fields;
}

/** `skbaddr: 0x…, len: 98, name: "lo"` */
function keyColon(text: string): Map<string, string> {
  const fields = new Map<string, string>();
  for (const m of text.matchAll(/(\w+):\s*("(?:[^"\\]|\\.)*"|[^,]*)/g)) {
    const v = m[2]!.trim();
    fields.set(m[1]!, v.startsWith('"') ? v.slice(1, -1) : v);
  }
  return fields;
}

/** tracefs hashes %p pointers into bare hex; perf prints 0x…: both become 0x + lowercase hex. */
function normalizeAddr(text: string | undefined): string | null {
  if (text === undefined) return null;
  const hex = text.toLowerCase().replace(/^0x/, "");
  if (!/^[0-9a-f]{1,16}$/.test(hex)) return null;
  return "0x" + (hex.replace(/^0+(?=.)/, ""));
}

function fromFields(clockNs: number, name: string, f: Map<string, string>): LineResult {
  if (!WANTED.has(name)) return ok(null);
  if (!Number.isFinite(clockNs)) return err("timestamp is not a number");
  const skbaddr = normalizeAddr(f.get("skbaddr"));
  if (skbaddr === null) return err(`${name}: missing or malformed skbaddr`);
  const event: Omit<RawEvent, "tNs"> = { event: name, skbaddr };
  if (name === "kfree_skb" || name === "consume_skb") {
    const location = f.get("location");
    if (location !== undefined && location !== "") event.location = location;
    if (name === "kfree_skb") event.dropReason = f.get("reason") ?? "NOT_SPECIFIED";
    return ok({ clockNs, event });
  }
  const ifname = f.get("dev") ?? f.get("name");
  if (ifname === undefined || ifname === "") return err(`${name}: missing device name`);
  const lenText = f.get("len") ?? f.get("skb_len");
  const len = lenText === undefined ? NaN : Number(lenText);
  if (!Number.isInteger(len) || len < 0) return err(`${name}: missing or malformed len`);
  event.ifname = ifname;
  event.len = len;
  return ok({ clockNs, event });
}
