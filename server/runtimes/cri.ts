// Kubernetes pods through the CRI (runtime.v1.RuntimeService) on the runtime's gRPC socket: containerd
// and CRI-O alike. ListPodSandbox gives the ready pods with kubelet's labels
// (io.kubernetes.pod.name / .namespace), PodSandboxStatus (verbose) each new pod's network namespace,
// ListContainers the running containers in them. The CRI's event stream is newer than many runtimes
// in use (containerd 1.6 answers UNIMPLEMENTED), so this runtime is polled: two calls a poll, one more
// per new pod.
import { GRPC_UNIMPLEMENTED, GrpcUnixClient, type CallResult } from "./grpc.ts";
import { arrayAt, numberAt, objectAt, parseJson, stringAt } from "./json.ts";
import { ProtoWriter, decodeMessage, type ProtoMessage } from "./protobuf.ts";
import type { ContainerInfo, Runtime, RuntimeList } from "./runtime.ts";
import { ok, type Result } from "../../shared/result.ts";

const SERVICE = "/runtime.v1.RuntimeService";

/** Where kubelet's runtimes listen by default: containerd, k3s's containerd, CRI-O, cri-dockerd. */
export const DEFAULT_CRI_SOCKETS = [
  "/run/containerd/containerd.sock",
  "/run/k3s/containerd/containerd.sock",
  "/run/crio/crio.sock",
  "/run/cri-dockerd.sock",
];

// Enum values and field numbers from the CRI's api.proto (k8s.io/cri-api, runtime/v1).
const SANDBOX_READY = 0;
const CONTAINER_RUNNING = 1;
const NAMESPACE_NODE = 2;

export interface CriSandbox {
  id: string;
  pod: { namespace: string; name: string };
}

export interface CriSandboxNetns {
  hostNetwork: boolean;
  pid?: number;
  netnsPath?: string;
}

export interface CriContainer {
  id: string;
  sandboxId: string;
  name: string;
}

/** ListPodSandboxRequest { filter = 1: PodSandboxFilter { state = 2: { state = 1: READY } } } */
export const listReadySandboxesRequest = (): Uint8Array =>
  new ProtoWriter().message(1, new ProtoWriter().message(2, new ProtoWriter().uint(1, SANDBOX_READY))).finish();

/** PodSandboxStatusRequest { pod_sandbox_id = 1, verbose = 2 } */
export const sandboxStatusRequest = (id: string): Uint8Array => new ProtoWriter().string(1, id).bool(2, true).finish();

/** ListContainersRequest { filter = 1: ContainerFilter { state = 2: { state = 1: RUNNING } } } */
export const listRunningContainersRequest = (): Uint8Array =>
  new ProtoWriter().message(1, new ProtoWriter().message(2, new ProtoWriter().uint(1, CONTAINER_RUNNING))).finish();

/** ListPodSandboxResponse { items = 1: PodSandbox { id = 1, metadata = 2 { name = 1, namespace = 3 }, labels = 5 } } */
export function parseSandboxes(body: Uint8Array): Result<CriSandbox[]> {
  const msg = decodeMessage(body);
  if (!msg.ok) return msg;
  const items = msg.value.messages(1);
  if (!items.ok) return items;
  const out: CriSandbox[] = [];
  for (const item of items.value) {
    const meta = item.message(2);
    const labels = item.map(5);
    if (!meta.ok) return meta;
    if (!labels.ok) return labels;
    // kubelet's labels name the pod; the sandbox metadata says the same, and is all a bare CRI client sets.
    const name = labels.value.get("io.kubernetes.pod.name") ?? meta.value.string(1);
    const namespace = labels.value.get("io.kubernetes.pod.namespace") ?? meta.value.string(3);
    const id = item.string(1);
    if (id !== "" && name !== "") out.push({ id, pod: { namespace, name } });
  }
  return ok(out);
}

/** The network namespace named in a verbose status's runtime spec, and the sandbox's pid where given. */
function netnsOfInfo(info: string | undefined): { pid?: number; netnsPath?: string } {
  const parsed = parseJson(info ?? "");
  const out: { pid?: number; netnsPath?: string } = {};
  const pid = numberAt(parsed, "pid");
  if (pid !== undefined && pid > 0) out.pid = pid;
  const namespaces = arrayAt(objectAt(objectAt(parsed, "runtimeSpec"), "linux"), "namespaces");
  const path = stringAt(namespaces.find((n) => stringAt(n, "type") === "network"), "path");
  if (path !== undefined && path !== "") out.netnsPath = path;
  return out;
}

/**
 * PodSandboxStatusResponse { status = 1: PodSandboxStatus { linux = 6: { namespaces = 1: { options = 2:
 * { network = 1 } } } }, info = 2: map } — `info["info"]` is the runtime's JSON (containerd's and CRI-O's
 * both carry `runtimeSpec`; containerd's also `pid`).
 */
export function parseSandboxStatus(body: Uint8Array): Result<CriSandboxNetns> {
  const msg = decodeMessage(body);
  if (!msg.ok) return msg;
  const status = msg.value.message(1);
  const info = msg.value.map(2);
  if (!status.ok) return status;
  if (!info.ok) return info;
  let options: Result<ProtoMessage> = status.value.message(6);
  for (const field of [1, 2]) options = options.ok ? options.value.message(field) : options;
  if (!options.ok) return options;
  return ok({ hostNetwork: options.value.uint(1) === NAMESPACE_NODE, ...netnsOfInfo(info.value.get("info")) });
}

/** ListContainersResponse { containers = 1: Container { id = 1, pod_sandbox_id = 2, metadata = 3 { name = 1 } } } */
export function parseContainers(body: Uint8Array): Result<CriContainer[]> {
  const msg = decodeMessage(body);
  if (!msg.ok) return msg;
  const items = msg.value.messages(1);
  if (!items.ok) return items;
  const out: CriContainer[] = [];
  for (const item of items.value) {
    const meta = item.message(3);
    if (!meta.ok) return meta;
    const id = item.string(1), sandboxId = item.string(2), name = meta.value.string(1);
    if (id !== "" && sandboxId !== "") out.push({ id, sandboxId, name });
  }
  return ok(out);
}

export class CriRuntime implements Runtime {
  readonly describe: string;
  private readonly client: GrpcUnixClient;
  /** a sandbox's network namespace is fixed for its life: asked once per sandbox id */
  private readonly netnsOf = new Map<string, CriSandboxNetns>();

  constructor(readonly socketPath: string, timeoutMs = 2000) {
    this.describe = `CRI (${socketPath})`;
    this.client = new GrpcUnixClient(socketPath, timeoutMs);
  }

  async list(): Promise<RuntimeList> {
    const sandboxes = await this.ask("ListPodSandbox", listReadySandboxesRequest(), parseSandboxes);
    if (sandboxes.state !== "ok") return sandboxes;
    const containers = await this.ask("ListContainers", listRunningContainersRequest(), parseContainers);
    if (containers.state !== "ok") return containers;
    const live = new Set(sandboxes.value.map((s) => s.id));
    for (const id of this.netnsOf.keys()) if (!live.has(id)) this.netnsOf.delete(id);
    const out: ContainerInfo[] = [];
    for (const sandbox of sandboxes.value) {
      let netns = this.netnsOf.get(sandbox.id);
      if (netns === undefined) {
        const status = await this.ask("PodSandboxStatus", sandboxStatusRequest(sandbox.id), parseSandboxStatus);
        // Gone between the two calls, or refused: asked again next time.
        if (status.state !== "ok") continue;
        netns = status.value;
        this.netnsOf.set(sandbox.id, netns);
      }
      // A hostNetwork pod shares the node's namespace, which stays "host".
      if (netns.hostNetwork) continue;
      const where: Pick<ContainerInfo, "pid" | "netnsPath"> = {};
      if (netns.pid !== undefined) where.pid = netns.pid;
      if (netns.netnsPath !== undefined) where.netnsPath = netns.netnsPath;
      out.push({ runtime: "cri", id: sandbox.id, name: "", pod: sandbox.pod, infra: true, ...where });
      for (const c of containers.value) {
        if (c.sandboxId === sandbox.id) out.push({ runtime: "cri", id: c.id, name: c.name, pod: sandbox.pod, ...where });
      }
    }
    return { state: "ok", containers: out };
  }

  close(): void {
    this.client.close();
  }

  private async ask<T>(method: string, request: Uint8Array, parse: (body: Uint8Array) => Result<T>):
    Promise<{ state: "ok"; value: T } | { state: "absent" } | { state: "error"; error: string }> {
    const answer: CallResult = await this.client.call(`${SERVICE}/${method}`, request);
    if (!answer.ok) {
      // No socket, nobody on it, or a containerd with its CRI plugin off (as Docker installs it):
      // no Kubernetes runtime here.
      if (answer.error.absent || answer.error.code === GRPC_UNIMPLEMENTED) return { state: "absent" };
      return { state: "error", error: answer.error.message };
    }
    const parsed = parse(answer.value);
    if (!parsed.ok) return { state: "error", error: `${method}: ${parsed.error}` };
    return { state: "ok", value: parsed.value };
  }
}
