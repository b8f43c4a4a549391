// A `pktpath trace --json` child that runs through a whole scenario: started once, waited for until
// attached, asked for the pings it printed as they come, always stopped afterwards.
import { spawn, type ChildProcess } from "node:child_process";
import { once } from "node:events";
import { fileURLToPath } from "node:url";
import assert from "node:assert/strict";
import { parseExchange, parsePing } from "../../shared/validate.ts";
import type { Exchange, Ping } from "../../shared/types.ts";

const BIN = fileURLToPath(new URL("../../bin/pktpath.js", import.meta.url));

export class TraceChild {
  private readonly child: ChildProcess;
  private readonly exited: Promise<unknown>;
  private stdout = "";
  private stderrText = "";
  readonly pings: Ping[] = [];
  readonly exchanges: Exchange[] = [];
  private readonly problems: string[] = [];
  private readonly taken = new Set<Ping>();
  private waiters: (() => void)[] = [];

  private constructor(args: string[], env: NodeJS.ProcessEnv) {
    this.child = spawn(process.execPath, [BIN, "trace", "--json", ...args], { stdio: ["ignore", "pipe", "pipe"], env });
    this.exited = once(this.child, "close");
    this.child.stdout?.setEncoding("utf8").on("data", (d: string) => {
      this.stdout += d;
      const lines = this.stdout.split("\n");
      this.stdout = lines.pop() ?? "";
      for (const line of lines.filter(Boolean)) {
        // One exchange per line: pings are the icmp-echo ones (Ping objects), TCP and UDP the rest.
        let json: unknown;
        try {
          json = JSON.parse(line);
        } catch (e) {
          this.problems.push(`trace printed a line that is not JSON: ${String(e)}`);
          continue;
        }
        const x = parseExchange(json);
        if (!x.ok) {
          this.problems.push(`trace printed a bad exchange: ${x.error}`);
          continue;
        }
        this.exchanges.push(x.value);
        if (x.value.kind !== "icmp-echo") continue;
        const r = parsePing(json);
        if (r.ok) this.pings.push(r.value);
        else this.problems.push(`trace printed a bad ping: ${r.error}`);
      }
      this.wake();
    });
    this.child.stderr?.setEncoding("utf8").on("data", (d: string) => {
      this.stderrText += d;
      this.wake();
    });
    void this.exited.then(() => this.wake());
  }

  get stderr(): string {
    return this.stderrText;
  }

  private wake(): void {
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }

  private async until<T>(check: () => T | undefined, timeoutMs: number, what: string): Promise<T> {
    const deadline = performance.now() + timeoutMs;
    for (;;) {
      if (this.problems.length > 0) throw new Error(this.problems.join("; "));
      const v = check();
      if (v !== undefined) return v;
      if (this.child.exitCode !== null || this.child.signalCode !== null) throw new Error(`trace exited while waiting for ${what}: ${this.stderrText}`);
      const left = deadline - performance.now();
      if (left <= 0) throw new Error(`no ${what} in ${timeoutMs} ms; trace said: ${this.stderrText}`);
      await new Promise<void>((r) => {
        const timer = setTimeout(r, left);
        this.waiters.push(() => (clearTimeout(timer), r()));
      });
    }
  }

  /** Starts `trace --json ARGS` and resolves once it is attached through eBPF. */
  static async start(args: string[], env: NodeJS.ProcessEnv = process.env): Promise<TraceChild> {
    const t = new TraceChild(args, env);
    try {
      await t.until(() => (t.stderrText.includes("pktpath: tracing (source: ebpf)") ? true : undefined), 30_000, "ready line");
    } catch (e) {
      await t.stop();
      throw e;
    }
    return t;
  }

  /**
   * The first ping printed that matches and was not returned before, waiting for it. (A runtime may
   * give a new container the address of one removed: an older ping would match again.)
   */
  async ping(match: (p: Ping) => boolean, what: string, timeoutMs = 10_000): Promise<Ping> {
    const found = await this.until(() => this.pings.find((p) => !this.taken.has(p) && match(p)), timeoutMs, what);
    this.taken.add(found);
    return found;
  }

  async stop(): Promise<void> {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill("SIGINT");
    await this.exited;
  }
}

/** Every hop of the ping named as `expected` says for its netns; the names seen, in order of first appearance. */
export function hopNames(p: Ping, expected: Map<number, string>): string[] {
  const seen: string[] = [];
  for (const hop of [...(p.request?.hops ?? []), ...(p.reply?.hops ?? [])]) {
    assert.ok(hop.netns !== undefined, `${hop.event} ${hop.ifname}: no netns`);
    assert.equal(hop.netnsName, expected.get(hop.netns), `${hop.event} ${hop.ifname} in netns ${hop.netns}`);
    if (hop.netnsName !== undefined && !seen.includes(hop.netnsName)) seen.push(hop.netnsName);
  }
  return seen;
}

/** A complete echo from src to dst. */
export const echoBetween = (src: string, dst: string) => (p: Ping): boolean => p.src === src && p.dst === dst && p.status === "complete";
