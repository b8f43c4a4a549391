// Docker through its Engine API on a unix socket: GET /containers/json for the running containers,
// GET /containers/{id}/json for each one's init pid, and the GET /events stream to hear of starts and
// stops. Paths carry no API version, so the daemon answers in its own. A socket served by Podman's
// compatible API (podman-docker, `podman system service`) is recognised by GET /version and its
// containers are named "podman".
import { request } from "node:http";
import { keepListening, lineReader } from "./eventStream.ts";
import { mapLimited } from "../procfs.ts";
import { arrayAt, numberAt, objectAt, parseJson, podOfLabels, stringAt, type Json } from "./json.ts";
import type { ContainerInfo, Runtime, RuntimeKind, RuntimeList } from "./runtime.ts";

const ABSENT_CODES = new Set(["ENOENT", "ECONNREFUSED", "ENOTSOCK"]);

type HttpAnswer = { ok: true; status: number; body: string } | { ok: false; absent: boolean; error: string };

/** The socket named by DOCKER_HOST when it is a unix one, else Docker's default. */
export function defaultDockerSocket(env: NodeJS.ProcessEnv = process.env): string {
  const host = env.DOCKER_HOST ?? "";
  return host.startsWith("unix://") ? host.slice("unix://".length) : "/var/run/docker.sock";
}

export class DockerRuntime implements Runtime {
  readonly describe: string;
  private kind: RuntimeKind | undefined;

  constructor(readonly socketPath = defaultDockerSocket(), private readonly timeoutMs = 2000) {
    this.describe = `docker (${socketPath})`;
  }

  async list(): Promise<RuntimeList> {
    if (this.kind === undefined) {
      const version = await this.get("/version");
      if (!version.ok) return version.absent ? { state: "absent" } : { state: "error", error: version.error };
      const engines = arrayAt(parseJson(version.body), "Components").map((c) => stringAt(c, "Name"));
      this.kind = engines.includes("Podman Engine") ? "podman" : "docker";
    }
    const answer = await this.get("/containers/json");
    if (!answer.ok) return answer.absent ? { state: "absent" } : { state: "error", error: answer.error };
    if (answer.status !== 200) return { state: "error", error: `GET /containers/json: HTTP ${answer.status}` };
    const listed = parseJson(answer.body);
    if (!Array.isArray(listed)) return { state: "error", error: "GET /containers/json: not a JSON array" };
    const ids = listed.map((c) => stringAt(c, "Id")).filter((id): id is string => id !== undefined && /^[0-9a-f]{12,64}$/.test(id));
    const inspected = await mapLimited(ids, 8, (id) => this.inspect(id));
    return { state: "ok", containers: inspected.filter((c): c is ContainerInfo => c !== undefined) };
  }

  /** One container's name, pid and pod; undefined if it went away meanwhile. */
  private async inspect(id: string): Promise<ContainerInfo | undefined> {
    const answer = await this.get(`/containers/${id}/json`);
    if (!answer.ok || answer.status !== 200) return undefined;
    const c = parseJson(answer.body);
    const pid = numberAt(objectAt(c, "State"), "Pid") ?? 0;
    const name = (stringAt(c, "Name") ?? "").replace(/^\//, "");
    if (pid <= 0 || name === "") return undefined;
    const labels: Json | undefined = objectAt(objectAt(c, "Config"), "Labels");
    const info: ContainerInfo = { runtime: this.kind ?? "docker", id, name, pid };
    const pod = podOfLabels(labels);
    if (pod !== undefined) {
      // Kubernetes through cri-dockerd: the pod's sandbox is a "POD" container holding the namespaces.
      info.pod = pod;
      info.name = stringAt(labels, "io.kubernetes.container.name") ?? name;
      if (info.name === "POD" || stringAt(labels, "io.kubernetes.docker.type") === "podsandbox") info.infra = true;
    }
    return info;
  }

  watch(onChange: () => void): () => void {
    const filters = encodeURIComponent(JSON.stringify({ type: ["container"], event: ["start", "die", "destroy"] }));
    return keepListening((onLine, onEnd) => {
      const req = request({ socketPath: this.socketPath, path: `/events?filters=${filters}`, method: "GET" }, (res) => {
        res.on("close", () => onEnd());
        // An engine without this stream answers with an error, not events.
        if (res.statusCode !== 200) return void res.resume();
        res.setEncoding("utf8");
        res.on("data", lineReader(onLine));
      });
      req.on("error", () => onEnd());
      // Open for the life of the namer: it must not keep the process alive.
      req.on("socket", (s) => s.unref());
      req.end();
      return { close: () => req.destroy() };
    }, () => onChange(), onChange);
  }

  private get(path: string): Promise<HttpAnswer> {
    return new Promise((resolve) => {
      const req = request({ socketPath: this.socketPath, path, method: "GET", timeout: this.timeoutMs }, (res) => {
        let body = "";
        res.setEncoding("utf8");
        res.on("data", (c: string) => (body += c));
        res.on("end", () => resolve({ ok: true, status: res.statusCode ?? 0, body }));
        res.on("error", (e) => resolve({ ok: false, absent: false, error: `GET ${path}: ${e.message}` }));
      });
      req.on("timeout", () => req.destroy(new Error(`no answer in ${this.timeoutMs} ms`)));
      req.on("error", (e: NodeJS.ErrnoException) =>
        resolve({ ok: false, absent: ABSENT_CODES.has(e.code ?? ""), error: `GET ${path}: ${e.message}` }));
      req.end();
    });
  }
}
