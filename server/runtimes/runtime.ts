// What every container runtime client answers, and how its containers become one netns name.
// A runtime is asked through its own documented API or CLI; this module holds no I/O.
import { formatNetnsOwner } from "../../shared/netnsNames.ts";

export type RuntimeKind = "docker" | "podman" | "cri";

export interface ContainerInfo {
  runtime: RuntimeKind;
  id: string;
  /** the name people gave it: `docker run --name`, the pod spec's container name */
  name: string;
  /** the container's init process, in this machine's pid namespace (0 or absent when not known) */
  pid?: number;
  /** a bind mount of its network namespace, where the runtime gives one (CRI sandboxes) */
  netnsPath?: string;
  /** the Kubernetes pod it belongs to */
  pod?: { namespace: string; name: string };
  /** the Podman pod it belongs to */
  podmanPod?: string;
  /** the pod's own holder of the namespaces (a CRI sandbox, a Podman infra container): not named */
  infra?: boolean;
}

/** One answer of a runtime: not there (skipped silently), failing (warned about once), or its list. */
export type RuntimeList =
  | { state: "absent" }
  | { state: "error"; error: string }
  | { state: "ok"; containers: ContainerInfo[] };

export interface Runtime {
  /** for warnings: "docker (/var/run/docker.sock)" */
  readonly describe: string;
  /** the running containers, now */
  list(): Promise<RuntimeList>;
  /**
   * Calls `onChange` when containers start or stop, where the runtime offers events; returns the way
   * to stop listening. A runtime without it is polled.
   */
  watch?(onChange: () => void): () => void;
  close?(): void;
}

const byName = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

/**
 * The name of a namespace shared by these containers, most specific first: a Kubernetes pod
 * ("pod default/checkout-7d9f (container app)"), a Podman pod, else the runtime and the containers'
 * names ("docker web-1", "podman db"). Deterministic whatever order the runtimes answered in.
 */
export function labelOf(containers: readonly ContainerInfo[]): string | undefined {
  const seen = new Set<string>();
  const unique = containers.filter((c) => {
    const key = `${c.runtime}/${c.id}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
  const names = (list: readonly ContainerInfo[]) =>
    [...new Set(list.filter((c) => !c.infra && c.name !== "").map((c) => c.name))].sort(byName);

  const podKey = (c: ContainerInfo) => `${c.pod?.namespace}/${c.pod?.name}`;
  const inPod = unique.filter((c) => c.pod !== undefined).sort((a, b) => byName(podKey(a), podKey(b)));
  const pod = inPod[0]?.pod;
  if (pod !== undefined) {
    const containers = names(inPod.filter((c) => podKey(c) === `${pod.namespace}/${pod.name}`));
    return formatNetnsOwner({ kind: "pod", namespace: pod.namespace, pod: pod.name, containers });
  }
  const podmanPod = unique.map((c) => c.podmanPod ?? "").filter((p) => p !== "").sort(byName)[0];
  if (podmanPod !== undefined) {
    return formatNetnsOwner({ kind: "podman-pod", pod: podmanPod, containers: names(unique.filter((c) => c.podmanPod === podmanPod)) });
  }
  for (const kind of ["docker", "podman"] as const) {
    const containers = names(unique.filter((c) => c.runtime === kind));
    if (containers.length > 0) return formatNetnsOwner({ kind, containers });
  }
  return undefined;
}
