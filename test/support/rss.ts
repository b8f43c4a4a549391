// Memory of a pktpath child, measured by the kernel: the resident set of a running server (from
// /proc), or the peak of a whole CLI run (getrusage's maxRSS, written by the child itself on exit).
import { spawn } from "node:child_process";
import { once } from "node:events";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { ROOT, type RunResult } from "./cli-child.ts";

const BIN = fileURLToPath(new URL("../../bin/pktpath.js", import.meta.url));
const MIB = 1024 * 1024;

/** Resident set of a process now, in MiB (VmRSS of /proc/PID/status). */
export function rssMiB(pid: number): number {
  const kib = /^VmRSS:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, "utf8"))?.[1];
  if (kib === undefined) throw new Error(`no VmRSS for ${pid}`);
  return (Number(kib) * 1024) / MIB;
}

// Preloaded into the child: its peak RSS (KiB) goes to fd 3 as it exits, after everything it did.
const REPORT_PEAK = "data:text/javascript," + encodeURIComponent(
  'import { writeSync } from "node:fs"; process.on("exit", () => writeSync(3, String(process.resourceUsage().maxRSS)));');

/** Runs `pktpath ARGS` to the end (killed after timeoutMs) and reports its peak RSS in MiB. */
export async function runCliPeak(args: string[], timeoutMs = 30_000): Promise<RunResult & { peakMiB: number }> {
  const child = spawn(process.execPath, ["--import", REPORT_PEAK, BIN, ...args],
    { cwd: ROOT, stdio: ["ignore", "pipe", "pipe", "pipe"] });
  let stdout = "", stderr = "", peak = "";
  const [, out, errs, fd3] = child.stdio;
  if (!out || !errs || !fd3 || !("setEncoding" in fd3)) throw new Error("child without its pipes");
  out.setEncoding("utf8").on("data", (d: string) => (stdout += d));
  errs.setEncoding("utf8").on("data", (d: string) => (stderr += d));
  fd3.setEncoding("utf8").on("data", (d: string) => (peak += d));
  const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
  const [code] = (await once(child, "close")) as [number | null];
  clearTimeout(timer);
  return { code, stdout, stderr, peakMiB: (Number(peak) * 1024) / MIB };
}
