// Live capture without BPF: a private tracefs instance with the net and skb tracepoints enabled,
// read from trace_pipe. Packet headers are not available this way, so journeys carry no packet info.
import { spawn, type ChildProcess } from "node:child_process";
import { mkdir, readdir, readlink, rmdir, stat, writeFile } from "node:fs/promises";
import { createInterface } from "node:readline";
import { TextCaptureReader } from "../../shared/importers/textCapture.ts";
import { err, ok, type Result } from "../../shared/result.ts";
import type { RawEvent } from "../../shared/types.ts";
import type { CaptureSource, SourceCounters } from "./source.ts";

const TRACEFS = "/sys/kernel/tracing";
const INSTANCE_PREFIX = "pktpath-";
const EVENTS = [
  "net/net_dev_queue", "net/net_dev_xmit", "net/netif_rx", "net/netif_receive_skb",
  "net/napi_gro_receive_entry", "skb/kfree_skb", "skb/consume_skb",
];

async function exists(path: string): Promise<boolean> {
  return stat(path).then(() => true, () => false);
}

/** Readers left behind by a process killed with -9 keep trace_pipe open; end them so the instance can go. */
async function killReadersOf(instanceDir: string): Promise<void> {
  const pids = await readdir("/proc").catch(() => [] as string[]);
  for (const pid of pids.filter((p) => /^\d+$/.test(p))) {
    const fds = await readdir(`/proc/${pid}/fd`).catch(() => [] as string[]);
    for (const fd of fds) {
      const target = await readlink(`/proc/${pid}/fd/${fd}`).catch(() => "");
      if (target.startsWith(instanceDir + "/")) {
        try { process.kill(Number(pid), "SIGKILL"); } catch { /* already gone */ }
        break;
      }
    }
  }
}

/**
 * Removes instances of pktpath processes that no longer run (killed with -9, say): every source's
 * start calls it (server/sources.ts), as a dead capture keeps tracing into its buffer until then.
 * Without root or tracefs there is nothing to read here, and nothing is done.
 */
export async function removeStaleInstances(): Promise<string[]> {
  const names = await readdir(`${TRACEFS}/instances`).catch(() => [] as string[]);
  const removed: string[] = [];
  for (const name of names) {
    const pid = /^pktpath-(\d+)$/.exec(name)?.[1];
    if (pid === undefined || (await exists(`/proc/${pid}`))) continue;
    const dir = `${TRACEFS}/instances/${name}`;
    await killReadersOf(dir);
    await new Promise((r) => setTimeout(r, 50));
    if (await rmdir(dir).then(() => true, () => false)) removed.push(name);
  }
  return removed;
}

export async function tracefsAvailable(): Promise<Result<void>> {
  if (process.getuid?.() !== 0) return err("tracefs capture needs root");
  if (!(await exists(`${TRACEFS}/instances`))) return err(`tracefs is not mounted at ${TRACEFS} (mount -t tracefs nodev ${TRACEFS})`);
  return ok(undefined);
}

export function createTracefsSource(): CaptureSource {
  const dir = `${TRACEFS}/instances/${INSTANCE_PREFIX}${process.pid}`;
  const counters: SourceCounters = { events: 0, lost: 0 };
  let reader: ChildProcess | undefined;
  let stopped = false;
  let done: Promise<void> = Promise.resolve();
  let originNs = 0;
  let idleFlush: NodeJS.Timeout | undefined;

  async function start(sink: (events: RawEvent[]) => void): Promise<void> {
    const avail = await tracefsAvailable();
    if (!avail.ok) throw new Error(avail.error);
    await removeStaleInstances();
    await mkdir(dir);
    // CLOCK_MONOTONIC, like process.hrtime, so nowNs() and event times share one timeline.
    await writeFile(`${dir}/trace_clock`, "mono");
    originNs = Number(process.hrtime.bigint());
    for (const e of EVENTS) {
      // napi_gro_receive_entry is optional: a kernel without it still captures the rest.
      await writeFile(`${dir}/events/${e}/enable`, "1").catch(() => undefined);
    }
    // A child reads trace_pipe: a blocking read there would otherwise hold a libuv thread forever.
    const child = spawn("cat", [`${dir}/trace_pipe`], { stdio: ["ignore", "pipe", "ignore"] });
    reader = child;
    const text = new TextCaptureReader({ format: "tracefs", originNs });
    let lastLineMs = 0;
    const deliver = (events: RawEvent[]): void => {
      if (events.length === 0) return;
      counters.events += events.length;
      sink(events);
    };
    // Held for reordering until newer events come; on a quiet link, let them go after a short pause.
    idleFlush = setInterval(() => {
      if (Date.now() - lastLineMs >= 100) deliver(text.end());
    }, 200);
    const lines = createInterface({ input: child.stdout });
    lines.on("line", (line) => {
      lastLineMs = Date.now();
      const r = text.push(line);
      // Only the kernel writes this pipe; an unreadable line is counted as lost, not fatal.
      if (!r.ok) { counters.lost += 1; return; }
      deliver(r.value);
    });
    done = new Promise((resolve) => lines.on("close", () => {
      deliver(text.end());
      resolve();
    }));
  }

  async function stop(): Promise<void> {
    if (stopped) return;
    stopped = true;
    await writeFile(`${dir}/tracing_on`, "0").catch(() => undefined);
    reader?.kill("SIGTERM");
    await done;
    clearInterval(idleFlush);
    await rmdir(dir).catch(() => undefined);
  }

  return {
    name: "tracefs", live: true, start, stop,
    counters: () => ({ ...counters }),
    nowNs: () => Number(process.hrtime.bigint()) - originNs,
  };
}
