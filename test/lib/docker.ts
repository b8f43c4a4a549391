// A private Docker engine for tests: its own data and exec roots and socket under one temporary
// folder, on a bridge the test names and addresses, and never touching the firewall or sysctls
// (no iptables, no masquerade, no ip_forward). destroy() removes its containers, stops it, removes
// its mounts, the bridge and the folder.
import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { once } from "node:events";
import { existsSync, mkdtempSync, openSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { sh } from "./netns.ts";

/** Debian's client, matching Debian's engine (another client may be earlier on PATH). */
const CLIENT = "/usr/bin/docker";

export class DockerEngine {
  readonly dir: string;
  readonly socket: string;
  private child: ChildProcess | undefined;

  /** bridge: its name (the test's prefix); gateway: its address, e.g. "10.219.16.1/24". */
  constructor(readonly bridge: string, private readonly gateway: string) {
    this.dir = mkdtempSync(join(tmpdir(), `${bridge}-`));
    this.socket = join(this.dir, "docker.sock");
  }

  docker(...args: string[]): string {
    return sh(CLIENT, "-H", `unix://${this.socket}`, ...args).trim();
  }

  async start(): Promise<void> {
    sh("ip", "link", "add", this.bridge, "type", "bridge");
    sh("ip", "addr", "add", this.gateway, "dev", this.bridge);
    sh("ip", "link", "set", this.bridge, "up");
    const log = openSync(join(this.dir, "dockerd.log"), "a");
    this.child = spawn("dockerd", [
      "--data-root", join(this.dir, "root"), "--exec-root", join(this.dir, "exec"), "--pidfile", join(this.dir, "dockerd.pid"),
      "-H", `unix://${this.socket}`, "--bridge", this.bridge, "--storage-driver", "overlay2",
      "--iptables=false", "--ip6tables=false", "--ip-masq=false", "--ip-forward=false", "--userland-proxy=false",
    ], { stdio: ["ignore", log, log] });
    for (let i = 0; i < 300 && this.child.exitCode === null; i++) {
      if (existsSync(this.socket)) {
        try {
          this.docker("version", "--format", "{{.Server.Version}}");
          return;
        } catch {
          // still starting
        }
      }
      await new Promise((r) => setTimeout(r, 50));
    }
    throw new Error(`dockerd did not start: ${this.log().slice(-2000)}`);
  }

  log(): string {
    const file = join(this.dir, "dockerd.log");
    return existsSync(file) ? readFileSync(file, "utf8") : "";
  }

  async destroy(): Promise<void> {
    if (this.child?.exitCode === null) {
      try {
        const ids = this.docker("ps", "-aq").split("\n").filter(Boolean);
        if (ids.length > 0) this.docker("rm", "-f", ...ids);
      } catch {
        // the engine is failing: its containers go with it below
      }
      this.child.kill("SIGTERM");
      await once(this.child, "exit");
    }
    const mounts = readFileSync("/proc/mounts", "utf8").split("\n").map((l) => l.split(" ")[1] ?? "")
      .filter((m) => m.startsWith(this.dir)).sort().reverse();
    for (const m of mounts) execFileSync("umount", ["-l", m]);
    try {
      sh("ip", "link", "del", this.bridge);
    } catch {
      // never made
    }
    rmSync(this.dir, { recursive: true, force: true });
  }
}
