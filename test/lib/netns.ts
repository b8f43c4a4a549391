// Builds small network topologies for tests: namespaces, veth pairs, addresses, a forwarding
// namespace, a bridge, an nft drop rule. Every name starts with the test's own prefix, and
// destroy() removes everything with that prefix (the constructor does too, for leftovers of a
// killed run). Traffic stays inside these namespaces and the host ends of their veths.
import { execFileSync } from "node:child_process";
import { readdirSync } from "node:fs";

/** Runs a command; throws with its stderr on failure. */
export function sh(cmd: string, ...args: string[]): string {
  try {
    return execFileSync(cmd, args, { stdio: ["ignore", "pipe", "pipe"], encoding: "utf8" });
  } catch (e) {
    const stderr = typeof e === "object" && e !== null && "stderr" in e ? String(e.stderr).trim() : "";
    throw new Error(`${cmd} ${args.join(" ")} failed${stderr ? `: ${stderr}` : ""}`);
  }
}

function quiet(cmd: string, ...args: string[]): void {
  try {
    sh(cmd, ...args);
  } catch {
    // already gone
  }
}

/** An interface end: in a namespace (its short name), or on the host when ns is undefined. */
export interface End {
  ns?: string;
  name: string;
}

export class Topology {
  readonly prefix: string;

  /** prefix: unique to the test, e.g. "ppE1"; names become `${prefix}-${name}` (max 15 chars). */
  constructor(prefix: string) {
    if (!/^[a-zA-Z][a-zA-Z0-9]{1,5}$/.test(prefix)) throw new Error(`bad topology prefix ${prefix}`);
    this.prefix = prefix;
    this.destroy();
  }

  /** Full name of a namespace or interface. */
  n(name: string): string {
    const full = `${this.prefix}-${name}`;
    if (full.length > 15) throw new Error(`name too long for an interface: ${full}`);
    return full;
  }

  /** Creates a namespace with lo up; returns its full name. */
  netns(name: string): string {
    const ns = this.n(name);
    sh("ip", "netns", "add", ns);
    sh("ip", "-n", ns, "link", "set", "lo", "up");
    // Interfaces made here later skip duplicate address detection, link-local addresses included:
    // a router whose link-local address is still tentative does not answer neighbour solicitations.
    this.exec(name, "sysctl", "-q", "-w", "net.ipv6.conf.default.accept_dad=0");
    return ns;
  }

  /** No duplicate address detection on one interface (host interfaces don't inherit the netns default). */
  private noDad(end: End): void {
    const key = `net.ipv6.conf.${this.n(end.name)}.accept_dad=0`;
    if (end.ns === undefined) sh("sysctl", "-q", "-w", key);
    else this.exec(end.ns, "sysctl", "-q", "-w", key);
  }

  private ip(ns: string | undefined, ...args: string[]): string {
    return ns === undefined ? sh("ip", ...args) : sh("ip", "-n", this.n(ns), ...args);
  }

  /** A veth pair between two ends, both up. */
  veth(a: End, b: End): void {
    const peer = b.ns === undefined ? [] : ["netns", this.n(b.ns)];
    this.ip(a.ns, "link", "add", this.n(a.name), "type", "veth", "peer", "name", this.n(b.name), ...peer);
    this.noDad(a);
    this.noDad(b);
    this.ip(a.ns, "link", "set", this.n(a.name), "up");
    this.ip(b.ns, "link", "set", this.n(b.name), "up");
  }

  /** Adds an address ("10.1.2.3/24" or "fd00::1/64"); IPv6 without duplicate detection, usable at once. */
  addr(end: End, cidr: string): void {
    const nodad = cidr.includes(":") ? ["nodad"] : [];
    this.ip(end.ns, "addr", "add", cidr, "dev", this.n(end.name), ...nodad);
  }

  route(ns: string | undefined, dst: string, via: string): void {
    this.ip(ns, ...(via.includes(":") ? ["-6"] : []), "route", "add", dst, "via", via);
  }

  /** Lets a namespace route between its interfaces. */
  forwarding(ns: string): void {
    this.exec(ns, "sysctl", "-q", "-w", "net.ipv4.ip_forward=1");
    this.exec(ns, "sysctl", "-q", "-w", "net.ipv6.conf.all.forwarding=1");
  }

  /** A bridge in ns (or on the host) with the given interfaces as ports. */
  bridge(ns: string | undefined, name: string, ports: string[]): void {
    this.ip(ns, "link", "add", this.n(name), "type", "bridge");
    this.noDad({ ns, name });
    for (const p of ports) this.ip(ns, "link", "set", this.n(p), "master", this.n(name));
    this.ip(ns, "link", "set", this.n(name), "up");
  }

  /** Drops matching packets on input in ns, e.g. nftDrop("b", "icmp type echo-request"). */
  nftDrop(ns: string, match: string): void {
    const table = `${this.prefix}_t`;
    const script = [
      `table inet ${table} {`,
      "  chain input {",
      "    type filter hook input priority 0; policy accept;",
      `    ${match} drop`,
      "  }",
      "}",
    ].join("\n");
    execFileSync("ip", ["netns", "exec", this.n(ns), "nft", "-f", "-"], { input: script, stdio: ["pipe", "pipe", "pipe"] });
  }

  /**
   * Loads an nft script in ns (the host's namespace when undefined). Its tables must be named
   * `${prefix}_…`: destroy() removes the host's such tables (a namespace's go with it).
   */
  nft(ns: string | undefined, script: string): void {
    const args = ns === undefined ? ["nft", "-f", "-"] : ["ip", "netns", "exec", this.n(ns), "nft", "-f", "-"];
    execFileSync(args[0]!, args.slice(1), { input: script, stdio: ["pipe", "pipe", "pipe"] });
  }

  /** `ip ARGS` in ns (the host's namespace when undefined). */
  link(ns: string | undefined, ...args: string[]): void {
    this.ip(ns, ...args);
  }

  /** Runs a command inside a namespace. */
  exec(ns: string, cmd: string, ...args: string[]): string {
    return sh("ip", "netns", "exec", this.n(ns), cmd, ...args);
  }

  /** The namespace's inode number, as the kernel reports it in dev->nd_net.net->ns.inum. */
  inode(ns: string): number {
    return Number(sh("stat", "-L", "-c", "%i", `/run/netns/${this.n(ns)}`).trim());
  }

  /** Removes every namespace and host interface whose name starts with the prefix. */
  destroy(): void {
    const mine = (name: string): boolean => name.startsWith(`${this.prefix}-`);
    let namespaces: string[] = [];
    try {
      namespaces = readdirSync("/run/netns").filter(mine);
    } catch {
      // no namespaces at all
    }
    for (const ns of namespaces) quiet("ip", "netns", "del", ns);
    let tables: string[] = [];
    try {
      tables = sh("nft", "list", "tables").split("\n").map((l) => l.trim().split(/\s+/)).filter((w) => w[0] === "table" && w[2]?.startsWith(`${this.prefix}_`)).map((w) => `${w[1]} ${w[2]}`);
    } catch {
      // no nft
    }
    for (const t of tables) quiet("nft", "delete", "table", ...t.split(" "));
    const links = sh("ip", "-o", "link", "show").split("\n").map((l) => l.split(": ")[1]?.split("@")[0] ?? "");
    for (const link of links.filter(mine)) quiet("ip", "link", "del", link);
  }
}

/** The inode of this process's network namespace. */
export function hostNetnsInode(): number {
  return Number(sh("stat", "-L", "-c", "%i", "/proc/self/ns/net").trim());
}

/**
 * The host —veth— namespace ns: h = `${net}.1`, n = `${net}.2` (net like "10.233.1"), the neighbour
 * resolved, so that the first echo captured is one request and one reply, with no ARP before it.
 */
export function hostToNamespace(topo: Topology, net: string): void {
  topo.netns("ns");
  topo.veth({ name: "h" }, { ns: "ns", name: "n" });
  topo.addr({ name: "h" }, `${net}.1/24`);
  topo.addr({ ns: "ns", name: "n" }, `${net}.2/24`);
  sh("ping", "-c", "1", "-W", "1", `${net}.2`);
}

/**
 * a —veth— r —veth— b, r forwarding: a0 = `${net}.1.2`, ra = `${net}.1.1`, rb = `${net}.2.1`,
 * b0 = `${net}.2.2` (net like "10.242"), with routes both ways and neighbours resolved.
 * Returns the namespaces' inodes.
 */
export function routed(topo: Topology, net: string): { a: number; r: number; b: number } {
  for (const ns of ["a", "r", "b"]) topo.netns(ns);
  topo.veth({ ns: "a", name: "a0" }, { ns: "r", name: "ra" });
  topo.veth({ ns: "r", name: "rb" }, { ns: "b", name: "b0" });
  topo.addr({ ns: "a", name: "a0" }, `${net}.1.2/24`);
  topo.addr({ ns: "r", name: "ra" }, `${net}.1.1/24`);
  topo.addr({ ns: "r", name: "rb" }, `${net}.2.1/24`);
  topo.addr({ ns: "b", name: "b0" }, `${net}.2.2/24`);
  topo.route("a", `${net}.2.0/24`, `${net}.1.1`);
  topo.route("b", `${net}.1.0/24`, `${net}.2.1`);
  topo.forwarding("r");
  topo.exec("a", "ping", "-c", "1", "-W", "1", `${net}.2.2`);
  return { a: topo.inode("a"), r: topo.inode("r"), b: topo.inode("b") };
}

/**
 * Two nodes n1, n2 on an underlay (198.18.X.1, .2 on u1, u2), a VXLAN (VNI 7, UDP 4789) on each,
 * bridged to a pod p1, p2 (10.X.0.1, .2 on e1, e2); the pods' neighbours resolved.
 */
export function vxlanOverlay(topo: Topology, x: number): void {
  for (const ns of ["n1", "n2", "p1", "p2"]) topo.netns(ns);
  topo.veth({ ns: "n1", name: "u1" }, { ns: "n2", name: "u2" });
  const [u1, u2] = [`198.18.${x}.1`, `198.18.${x}.2`];
  topo.addr({ ns: "n1", name: "u1" }, `${u1}/24`);
  topo.addr({ ns: "n2", name: "u2" }, `${u2}/24`);
  for (const [n, me, peer, pod, addr] of [["n1", u1, u2, "p1", `10.${x}.0.1`], ["n2", u2, u1, "p2", `10.${x}.0.2`]] as const) {
    const i = n.slice(1);
    topo.link(n, "link", "add", topo.n(`vx${i}`), "type", "vxlan", "id", "7", "local", me, "remote", peer, "dstport", "4789", "dev", topo.n(`u${i}`));
    topo.link(n, "link", "set", topo.n(`vx${i}`), "up");
    topo.veth({ ns: n, name: `pv${i}` }, { ns: pod, name: `e${i}` });
    topo.bridge(n, `br${i}`, [`vx${i}`, `pv${i}`]);
    topo.addr({ ns: pod, name: `e${i}` }, `${addr}/24`);
  }
  topo.exec("p1", "ping", "-c", "1", "-W", "2", `10.${x}.0.2`);
}
