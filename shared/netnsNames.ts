// What a hop's netnsName says about its namespace's owner, written in one place (the server's namer)
// and read back in another (a view's pod or container filter): "pod default/checkout-7d9f (container
// app)", "docker web-1", "podman db", "podman pod shop (containers a, b)", "host", "pid 2031 sleep",
// else an `ip netns` name. Container, pod and namespace names never hold spaces or commas (Docker,
// Podman and Kubernetes all refuse them), so the text parses back unambiguously.

export type NetnsOwner =
  | { kind: "host" }
  | { kind: "pod"; namespace: string; pod: string; containers: string[] }
  | { kind: "podman-pod"; pod: string; containers: string[] }
  | { kind: "docker" | "podman"; containers: string[] }
  | { kind: "process"; pid: number; comm: string }
  /** an `ip netns` name, or a name from a capture made elsewhere */
  | { kind: "netns"; name: string };

function members(containers: readonly string[]): string {
  if (containers.length === 0) return "";
  return containers.length === 1 ? ` (container ${containers[0]})` : ` (containers ${containers.join(", ")})`;
}

export function formatNetnsOwner(owner: NetnsOwner): string {
  switch (owner.kind) {
    case "host":
      return "host";
    case "pod":
      return `pod ${owner.namespace}/${owner.pod}${members(owner.containers)}`;
    case "podman-pod":
      return `podman pod ${owner.pod}${members(owner.containers)}`;
    case "docker":
    case "podman":
      return `${owner.kind} ${owner.containers.join(", ")}`;
    case "process":
      return owner.comm === "" ? `pid ${owner.pid}` : `pid ${owner.pid} ${owner.comm}`;
    case "netns":
      return owner.name;
  }
}

const NAME = "[^\\s,/()]+";
const MEMBERS = `(?: \\((?:container (${NAME})|containers (${NAME}(?:, ${NAME})+))\\))?`;
const POD = new RegExp(`^pod (${NAME})/(${NAME})${MEMBERS}$`);
const PODMAN_POD = new RegExp(`^podman pod (${NAME})${MEMBERS}$`);
const CONTAINERS = new RegExp(`^(docker|podman) (${NAME}(?:, ${NAME})*)$`);
const PROCESS = /^pid (\d+)(?: (.+))?$/;

const listOf = (one: string | undefined, many: string | undefined): string[] =>
  one !== undefined ? [one] : many !== undefined ? many.split(", ") : [];

/** The owner a netnsName names; a name of no known shape is an `ip netns` name. */
export function parseNetnsName(name: string): NetnsOwner {
  if (name === "host") return { kind: "host" };
  const pod = POD.exec(name);
  if (pod) return { kind: "pod", namespace: pod[1] ?? "", pod: pod[2] ?? "", containers: listOf(pod[3], pod[4]) };
  const podmanPod = PODMAN_POD.exec(name);
  if (podmanPod) return { kind: "podman-pod", pod: podmanPod[1] ?? "", containers: listOf(podmanPod[2], podmanPod[3]) };
  const containers = CONTAINERS.exec(name);
  if (containers) return { kind: containers[1] === "docker" ? "docker" : "podman", containers: (containers[2] ?? "").split(", ") };
  const process = PROCESS.exec(name);
  if (process) return { kind: "process", pid: Number(process[1]), comm: process[2] ?? "" };
  return { kind: "netns", name };
}
