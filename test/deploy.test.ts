// The Kubernetes packaging: every manifest in deploy/kubernetes/ validated against the Kubernetes API
// schemas (kubernetes-models, the OpenAPI schemas compiled to validators, offline), what the issue
// asks of the DaemonSet checked field by field, its command line parsed by pktpath's own parser, and
// the README's commands matched against the manifest. The schemas ignore unknown fields, as the API
// server does without strict validation, so the fields that matter are asserted by name here.
import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, readFileSync, readdirSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { parseAllDocuments } from "yaml";
import { Namespace, Service } from "kubernetes-models/v1";
import { DaemonSet, type IDaemonSet } from "kubernetes-models/apps/v1";
import { parseArgs } from "../server/args.ts";

const ROOT = fileURLToPath(new URL("../", import.meta.url));
const DIR = `${ROOT}deploy/kubernetes/`;

type Validated = { kind: string; name: string; model: Namespace | DaemonSet | Service };

/** Each document of each file, as its model class; a kind without one is an error. */
function loadManifests(): Validated[] {
  const out: Validated[] = [];
  for (const file of readdirSync(DIR).filter((f) => /\.ya?ml$/.test(f)).sort()) {
    for (const doc of parseAllDocuments(readFileSync(DIR + file, "utf8"))) {
      assert.deepEqual(doc.errors, [], `${file}: YAML errors`);
      const obj: unknown = doc.toJS();
      assert.ok(typeof obj === "object" && obj !== null, `${file}: a document is not an object`);
      const apiVersion: unknown = Reflect.get(obj, "apiVersion"), kind: unknown = Reflect.get(obj, "kind");
      const metadata: unknown = Reflect.get(obj, "metadata");
      const name: unknown = typeof metadata === "object" && metadata !== null ? Reflect.get(metadata, "name") : undefined;
      const where = `${file}: ${String(kind)} ${String(name)}`;
      let model: Namespace | DaemonSet | Service;
      if (apiVersion === "v1" && kind === "Namespace") model = new Namespace(obj);
      else if (apiVersion === "apps/v1" && kind === "DaemonSet") model = new DaemonSet(obj);
      else if (apiVersion === "v1" && kind === "Service") model = new Service(obj);
      else assert.fail(`${where}: no schema here for ${String(apiVersion)} ${String(kind)}`);
      assert.doesNotThrow(() => model.validate(), where);
      out.push({ kind: String(kind), name: String(name), model });
    }
  }
  return out;
}

test("deploy: the manifests are valid Kubernetes objects", () => {
  const manifests = loadManifests();
  assert.deepEqual(manifests.map((m) => `${m.kind} ${m.name}`), ["Namespace pktpath", "DaemonSet pktpath"]);
  // The validator is not a formality: a wrong type or a missing field is refused.
  const ds = manifests[1]!.model;
  assert.ok(ds instanceof DaemonSet);
  const broken = structuredClone(ds.toJSON()) as IDaemonSet;
  const pod = broken.spec?.template.spec;
  assert.ok(pod);
  (pod as unknown as Record<string, unknown>).hostPID = "yes";
  assert.throws(() => new DaemonSet(broken).validate(), /hostPID must be boolean/);
  const noName = structuredClone(ds.toJSON()) as IDaemonSet;
  (noName.spec?.template.spec?.containers[0] as unknown as Record<string, unknown>).name = undefined;
  assert.throws(() => new DaemonSet(noName).validate(), /name/);
});

test("deploy: the DaemonSet is what one pktpath per node needs, and no more", () => {
  const ds = loadManifests().find((m) => m.kind === "DaemonSet")?.model;
  assert.ok(ds instanceof DaemonSet);
  const pod = ds.spec?.template.spec;
  assert.ok(pod);
  assert.equal(pod.hostNetwork, true);
  assert.equal(pod.hostPID, true);
  assert.equal(pod.containers.length, 1);
  const c = pod.containers[0]!;
  const sc = c.securityContext;
  assert.equal(sc?.privileged, undefined);
  assert.deepEqual(sc?.capabilities?.drop, ["ALL"]);
  assert.deepEqual([...(sc?.capabilities?.add ?? [])].sort(), ["BPF", "NET_ADMIN", "PERFMON", "SYSLOG", "SYS_ADMIN", "SYS_PTRACE", "SYS_RESOURCE"]);
  assert.equal(sc?.readOnlyRootFilesystem, true);

  // Host paths: BTF, tracefs and the CRI's socket directory, each mounted read-only.
  const hostPathOf = (volume: string) => pod.volumes?.find((v) => v.name === volume)?.hostPath?.path;
  const mounts = new Map((c.volumeMounts ?? []).map((m) => [hostPathOf(m.name) ?? `(${m.name})`, m]));
  for (const path of ["/sys/kernel/btf", "/sys/kernel/tracing", "/run/containerd", "/run/netns"]) {
    assert.equal(mounts.get(path)?.readOnly, true, `${path} mounted read-only`);
  }
  const criSocket = c.env?.find((e) => e.name === "PKTPATH_CRI_SOCKET")?.value ?? "";
  const criMount = mounts.get("/run/containerd")?.mountPath ?? "";
  assert.ok(criMount !== "" && criSocket.startsWith(`${criMount}/`), `${criSocket} inside the CRI mount ${criMount}`);

  // The command line is one pktpath accepts, serving the node's loopback on the port declared.
  const parsed = parseArgs([...(c.command ?? []), ...(c.args ?? [])]);
  assert.ok(parsed.ok, parsed.ok ? "" : parsed.error);
  assert.ok(parsed.value.cmd === "serve");
  assert.equal(parsed.value.host, "127.0.0.1");
  assert.equal(c.ports?.[0]?.containerPort, parsed.value.port);
  assert.equal(c.readinessProbe?.httpGet?.port, parsed.value.port);
  assert.equal(c.readinessProbe?.httpGet?.path, "/api/health");
});

test("deploy: the README's commands and the Containerfile match the repository", () => {
  const readme = readFileSync(`${ROOT}README.md`, "utf8");
  const [first, second] = readme.split("\n").slice(3, 5);
  assert.match(first ?? "", /^npm start/);
  assert.match(second ?? "", /^npm test/);
  assert.ok(readme.includes("kubectl apply -f deploy/kubernetes/pktpath.yaml"));
  const forward = /kubectl -n (\S+) port-forward .*-l (\S+)=(\S+) .*spec\.nodeName=NODE .* (\d+):(\d+)/.exec(readme);
  assert.ok(forward, "a port-forward command for one node");
  const ds = loadManifests().find((m) => m.kind === "DaemonSet")?.model;
  assert.ok(ds instanceof DaemonSet);
  assert.equal(forward[1], ds.metadata?.namespace);
  assert.equal(ds.spec?.template.metadata?.labels?.[forward[2] ?? ""], forward[3]);
  assert.equal(Number(forward[5]), ds.spec?.template.spec?.containers[0]?.ports?.[0]?.containerPort);

  // Every path the image build copies from the repository exists in it.
  const containerfile = readFileSync(`${ROOT}deploy/Containerfile`, "utf8");
  const sources = [...containerfile.matchAll(/^COPY (?!--from)(.+) \S+$/gm)].flatMap((m) => (m[1] ?? "").split(" "));
  assert.ok(sources.length >= 6);
  for (const src of sources) assert.ok(existsSync(ROOT + src), `Containerfile copies ${src}, which is missing`);
  assert.match(containerfile, /^ENTRYPOINT \["node", "bin\/pktpath\.js"\]$/m);
});
