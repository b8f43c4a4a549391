// Drives a CRI runtime as kubelet would, for tests: pods and containers made and removed through the
// same gRPC client and protobuf writer the namer uses to read them.
import { GrpcUnixClient } from "../../server/runtimes/grpc.ts";
import { ProtoWriter, decodeMessage } from "../../server/runtimes/protobuf.ts";

const SERVICE = "/runtime.v1.RuntimeService";

export interface PodSpec {
  name: string;
  namespace: string;
  uid: string;
  /** the node's network namespace (NamespaceMode NODE), as a hostNetwork pod */
  hostNetwork?: boolean;
}

const NAMESPACE_NODE = 2;

/**
 * PodSandboxConfig { metadata = 1 { name = 1, uid = 2, namespace = 3 }, hostname = 2, labels = 6,
 * linux = 8 { security_context = 2 { namespace_options = 1 { network = 1 } } } }
 */
function sandboxConfig(pod: PodSpec): ProtoWriter {
  const linux = new ProtoWriter().message(2, new ProtoWriter().message(1, new ProtoWriter().uint(1, pod.hostNetwork ? NAMESPACE_NODE : 0)));
  return new ProtoWriter()
    .message(1, new ProtoWriter().string(1, pod.name).string(2, pod.uid).string(3, pod.namespace))
    // A hostNetwork pod shares the node's UTS namespace too: kubelet sets no hostname for it.
    .string(2, pod.hostNetwork ? "" : pod.name)
    // What kubelet sets on every sandbox, and what the namer reads first.
    .map(6, { "io.kubernetes.pod.name": pod.name, "io.kubernetes.pod.namespace": pod.namespace, "io.kubernetes.pod.uid": pod.uid })
    .message(8, linux);
}

export class CriDriver {
  readonly client: GrpcUnixClient;

  constructor(socketPath: string) {
    this.client = new GrpcUnixClient(socketPath, 30_000);
  }

  private async call(method: string, body: ProtoWriter): Promise<Uint8Array> {
    const answer = await this.client.call(`${SERVICE}/${method}`, body.finish());
    if (!answer.ok) throw new Error(`${method}: ${answer.error.message}`);
    return answer.value;
  }

  /** The first string field of an answer: the id RunPodSandbox and CreateContainer return. */
  private static idOf(method: string, body: Uint8Array): string {
    const msg = decodeMessage(body);
    if (!msg.ok || msg.value.string(1) === "") throw new Error(`${method}: no id in the answer`);
    return msg.value.string(1);
  }

  async version(): Promise<string> {
    const msg = decodeMessage(await this.call("Version", new ProtoWriter().string(1, "v1")));
    if (!msg.ok) throw new Error(`Version: ${msg.error}`);
    return `${msg.value.string(2)} ${msg.value.string(3)} (CRI ${msg.value.string(4)})`;
  }

  /** RunPodSandboxRequest { config = 1 } → { pod_sandbox_id = 1 } */
  async runPod(pod: PodSpec): Promise<string> {
    return CriDriver.idOf("RunPodSandbox", await this.call("RunPodSandbox", new ProtoWriter().message(1, sandboxConfig(pod))));
  }

  /**
   * CreateContainerRequest { pod_sandbox_id = 1, config = 2: ContainerConfig { metadata = 1 { name = 1 },
   * image = 2 { image = 1 }, command = 3 }, sandbox_config = 3 }, then StartContainer { container_id = 1 }.
   */
  async startContainer(sandboxId: string, pod: PodSpec, name: string, image: string, command: string[]): Promise<string> {
    const config = new ProtoWriter()
      .message(1, new ProtoWriter().string(1, name))
      .message(2, new ProtoWriter().string(1, image))
      .strings(3, command);
    const created = await this.call("CreateContainer",
      new ProtoWriter().string(1, sandboxId).message(2, config).message(3, sandboxConfig(pod)));
    const id = CriDriver.idOf("CreateContainer", created);
    await this.call("StartContainer", new ProtoWriter().string(1, id));
    return id;
  }

  /** PodSandboxStatus { pod_sandbox_id = 1 } → status = 1 { network = 5 { ip = 1 } } */
  async podIp(sandboxId: string): Promise<string> {
    const msg = decodeMessage(await this.call("PodSandboxStatus", new ProtoWriter().string(1, sandboxId)));
    const network = msg.ok ? msg.value.message(1) : msg;
    const ip = network.ok ? network.value.message(5) : network;
    if (!ip.ok || ip.value.string(1) === "") throw new Error("PodSandboxStatus: no pod IP");
    return ip.value.string(1);
  }

  /** StopPodSandbox then RemovePodSandbox { pod_sandbox_id = 1 }: its containers go with it. */
  async removePod(sandboxId: string): Promise<void> {
    await this.call("StopPodSandbox", new ProtoWriter().string(1, sandboxId));
    await this.call("RemovePodSandbox", new ProtoWriter().string(1, sandboxId));
  }

  close(): void {
    this.client.close();
  }
}
