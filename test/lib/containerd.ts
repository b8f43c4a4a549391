// A private containerd with its CRI plugin, for tests: its own root, state, socket and CNI network,
// all under one temporary folder and named with the test's prefix; stopped, unmounted and removed by
// destroy(), pods first.
import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { once } from "node:events";
import { existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { decodeMessage, ProtoWriter } from "../../server/runtimes/protobuf.ts";
import { CriDriver } from "./cri.ts";

export interface ContainerdOptions {
  /** the test's prefix: the bridge is `${prefix}cri0` */
  prefix: string;
  /** an IPv4 /24 for the pods, e.g. "10.219.13" */
  subnet24: string;
  sandboxImage: string;
}

export class Containerd {
  readonly dir: string;
  readonly socket: string;
  readonly bridge: string;
  private child: ChildProcess | undefined;
  driver: CriDriver | undefined;

  constructor(private readonly opts: ContainerdOptions) {
    this.dir = mkdtempSync(join(tmpdir(), `${opts.prefix}ctrd-`));
    this.socket = join(this.dir, "containerd.sock");
    this.bridge = `${opts.prefix}cri0`;
  }

  /** Writes the configuration, starts containerd and waits until its CRI answers. */
  async start(): Promise<CriDriver> {
    const cni = join(this.dir, "cni");
    mkdirSync(cni);
    writeFileSync(join(cni, "10-pods.conflist"), JSON.stringify({
      cniVersion: "0.4.0", name: `${this.opts.prefix}pods`,
      plugins: [
        { type: "bridge", bridge: this.bridge, isGateway: true, ipMasq: false,
          ipam: { type: "host-local", dataDir: join(this.dir, "ipam"), ranges: [[{ subnet: `${this.opts.subnet24}.0/24` }]] } },
        { type: "loopback" },
      ],
    }));
    const config = [
      "version = 2",
      `root = "${join(this.dir, "root")}"`,
      `state = "${join(this.dir, "state")}"`,
      "[grpc]", `  address = "${this.socket}"`,
      "[ttrpc]", `  address = "${this.socket}.ttrpc"`,
      '[plugins."io.containerd.grpc.v1.cri"]',
      `  sandbox_image = "${this.opts.sandboxImage}"`,
      // Root here lacks CAP_SYS_RESOURCE: the sandbox's negative oom_score_adj would fail runc.
      "  restrict_oom_score_adj = true",
      '  [plugins."io.containerd.grpc.v1.cri".cni]', '    bin_dir = "/usr/lib/cni"', `    conf_dir = "${cni}"`,
      '  [plugins."io.containerd.grpc.v1.cri".containerd]', '    snapshotter = "overlayfs"', '    default_runtime_name = "runc"',
      '    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]', '      runtime_type = "io.containerd.runc.v2"',
    ].join("\n");
    writeFileSync(join(this.dir, "config.toml"), config + "\n");
    const log = openSync(join(this.dir, "containerd.log"), "a");
    this.child = spawn("containerd", ["--config", join(this.dir, "config.toml")], { stdio: ["ignore", log, log] });
    this.driver = new CriDriver(this.socket);
    for (let i = 0; i < 200; i++) {
      if (this.child.exitCode !== null) break;
      if (existsSync(this.socket)) {
        try {
          await this.driver.version();
          return this.driver;
        } catch {
          // CRI plugin still loading
        }
      }
      await new Promise((r) => setTimeout(r, 50));
    }
    throw new Error(`containerd did not start: ${this.log().slice(-2000)}`);
  }

  log(): string {
    return existsSync(join(this.dir, "containerd.log")) ? readFileSync(join(this.dir, "containerd.log"), "utf8") : "";
  }

  /** Imports an image that Podman holds (`podman save`, then `ctr import` into the CRI's namespace). */
  importFromPodman(image: string): void {
    const tar = join(this.dir, "image.tar");
    execFileSync("podman", ["save", "--format", "docker-archive", "-o", tar, image], { stdio: "ignore" });
    execFileSync("ctr", ["--address", this.socket, "-n", "k8s.io", "images", "import", tar], { stdio: "ignore" });
    rmSync(tar);
  }

  /** Every pod removed (their containers with them), containerd stopped, its mounts and folder gone. */
  async destroy(): Promise<void> {
    const driver = this.driver;
    if (driver && this.child?.exitCode === null) {
      const listed = await driver.client.call("/runtime.v1.RuntimeService/ListPodSandbox", new ProtoWriter().finish());
      const msg = listed.ok ? decodeMessage(listed.value) : undefined;
      const items = msg?.ok ? msg.value.messages(1) : undefined;
      for (const item of items?.ok ? items.value : []) await driver.removePod(item.string(1)).catch(() => undefined);
      driver.close();
    }
    if (this.child && this.child.exitCode === null) {
      this.child.kill("SIGTERM");
      await once(this.child, "exit");
    }
    const mounts = readFileSync("/proc/mounts", "utf8").split("\n").map((l) => l.split(" ")[1] ?? "")
      .filter((m) => m.startsWith(this.dir)).sort().reverse();
    for (const m of mounts) execFileSync("umount", ["-l", m]);
    try {
      execFileSync("ip", ["link", "del", this.bridge], { stdio: "ignore" });
    } catch {
      // never made
    }
    rmSync(this.dir, { recursive: true, force: true });
  }
}
