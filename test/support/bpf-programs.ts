// The BPF programs a process holds open, by id: its fds that are BPF programs, as /proc tells.
// Exact where names are not: another pktpath on the machine has programs of the same names.
import { readdirSync, readFileSync, readlinkSync } from "node:fs";

/** The ids of the BPF programs process `pid` holds (this process by default), ascending. */
export function programsHeldBy(pid: number | "self" = "self"): number[] {
  const ids = new Set<number>();
  for (const fd of readdirSync(`/proc/${pid}/fd`)) {
    try {
      if (readlinkSync(`/proc/${pid}/fd/${fd}`) !== "anon_inode:bpf-prog") continue;
      const m = /^prog_id:\s*(\d+)$/m.exec(readFileSync(`/proc/${pid}/fdinfo/${fd}`, "utf8"));
      if (m) ids.add(Number(m[1]));
    } catch { /* closed meanwhile */ }
  }
  return [...ids].sort((a, b) => a - b);
}
