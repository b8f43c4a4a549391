// Podman for tests: an image built here from Debian's busybox-static (no registry is reachable), and
// containers run with what these machines need, all named with the test's prefix and removed after.
import { execFileSync } from "node:child_process";
import { mkdtempSync, mkdirSync, copyFileSync, rmSync, symlinkSync, readlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { sh } from "./netns.ts";

/** Runs podman; throws with its stderr on failure. */
export const podman = (...args: string[]): string => sh("podman", ...args).trim();

/**
 * Root here lacks CAP_SYS_RESOURCE, so the limits Podman would raise are set to what root may set;
 * crun refuses these machines' hybrid cgroup layout, runc does not; busybox's ping needs a raw socket.
 */
export const RUN_FLAGS = ["--runtime", "runc", "--ulimit", "nofile=4096:4096", "--ulimit", "nproc=4096:4096", "--cap-add", "NET_RAW"];

/** A root filesystem of busybox and its applets, as a tar archive: any runtime can import it. */
export function busyboxTar(): Buffer {
  const root = mkdtempSync(join(tmpdir(), "ppN-rootfs-"));
  try {
    for (const dir of ["bin", "etc", "tmp", "proc", "sys", "dev"]) mkdirSync(join(root, dir));
    copyFileSync("/bin/busybox", join(root, "bin/busybox"));
    for (const applet of ["sh", "sleep", "ping", "ip", "cat", "ls"]) symlinkSync("busybox", join(root, "bin", applet));
    return execFileSync("tar", ["-C", root, "-c", "."], { maxBuffer: 64 << 20 });
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}

/** The image's own command: a CRI sandbox runs it. */
export const SLEEP_CMD = 'CMD ["/bin/sleep", "100000"]';

/**
 * `localhost/ppn-busybox:<tag>`, sleeping by default. Image names must be lower case; the tag
 * carries the test's prefix.
 */
export function buildBusyboxImage(tag: string): string {
  const image = `localhost/ppn-busybox:${tag}`;
  execFileSync("podman", ["import", "--change", SLEEP_CMD, "-", image], { input: busyboxTar(), stdio: ["pipe", "ignore", "pipe"] });
  return image;
}

/** Removes every container whose name starts with the prefix, and the image. */
export function removeContainers(prefix: string, image?: string): void {
  const names = podman("ps", "-a", "--format", "{{.Names}}").split("\n").filter((n) => n.startsWith(prefix));
  if (names.length > 0) podman("rm", "-f", "-t", "0", ...names);
  if (image !== undefined) {
    try {
      podman("rmi", "-f", image);
    } catch {
      // never built
    }
  }
}

export const ipOf = (name: string): string => podman("inspect", "-f", "{{.NetworkSettings.IPAddress}}", name);
export const gatewayOf = (name: string): string => podman("inspect", "-f", "{{.NetworkSettings.Gateway}}", name);

/** The container's netns inode, through its init process. */
export function netnsOf(name: string): number {
  const pid = podman("inspect", "-f", "{{.State.Pid}}", name);
  return Number(/\d+/.exec(readlinkSync(`/proc/${pid}/ns/net`))?.[0]);
}
