// Podman through its CLI, as documented: `podman ps --format json` lists the running containers with
// their init pid and pod, and `podman events --format json` announces starts and stops. Podman has
// no daemon to ask (its API socket is opt-in), so the CLI is what every installation has.
import { execFile, spawn, type ChildProcess } from "node:child_process";
import { existsSync } from "node:fs";
import { Socket } from "node:net";
import { keepListening, lineReader } from "./eventStream.ts";
import { arrayAt, booleanAt, numberAt, parseJson, stringAt } from "./json.ts";
import type { ContainerInfo, Runtime, RuntimeList } from "./runtime.ts";

/** Children still running when the process exits are ended with it, not left behind. */
const children = new Set<ChildProcess>();
let exitHook = false;
/** util-linux's setpriv (Debian's util-linux has it), to give a child a parent-death signal. */
const SETPRIV = ["/usr/bin/setpriv", "/bin/setpriv"].find((p) => existsSync(p));

function track(child: ChildProcess): void {
  children.add(child);
  child.once("exit", () => children.delete(child));
  if (exitHook) return;
  exitHook = true;
  process.once("exit", () => {
    for (const c of children) c.kill("SIGTERM");
  });
}

/** The container states whose change can make or end a network namespace. */
const NETNS_EVENTS = new Set(["start", "died", "remove", "restart"]);

export function parsePodmanPs(text: string): ContainerInfo[] | string {
  const listed = parseJson(text);
  if (!Array.isArray(listed)) return "`podman ps --format json` did not print a JSON array";
  const out: ContainerInfo[] = [];
  for (const c of listed) {
    const id = stringAt(c, "Id");
    const first = arrayAt(c, "Names")[0];
    const name = typeof first === "string" ? first : "";
    const pid = numberAt(c, "Pid") ?? 0;
    if (id === undefined || name === "" || pid <= 0) continue;
    const info: ContainerInfo = { runtime: "podman", id, name, pid };
    const pod = stringAt(c, "PodName");
    if (pod !== undefined && pod !== "") info.podmanPod = pod;
    if (booleanAt(c, "IsInfra")) info.infra = true;
    out.push(info);
  }
  return out;
}

export class PodmanRuntime implements Runtime {
  readonly describe: string;

  constructor(private readonly command = "podman", private readonly timeoutMs = 5000) {
    this.describe = `podman (${command})`;
  }

  list(): Promise<RuntimeList> {
    return new Promise((resolve) => {
      execFile(this.command, ["ps", "--format", "json"], { timeout: this.timeoutMs, maxBuffer: 64 << 20 }, (e, stdout, stderr) => {
        if (e !== null && e.code === "ENOENT") return resolve({ state: "absent" });
        if (e !== null) {
          const why = stderr.trim().split("\n").pop() || (typeof e.code === "number" ? `exit status ${e.code}` : e.message.split("\n")[0]);
          return resolve({ state: "error", error: `podman ps: ${why}` });
        }
        const parsed = parsePodmanPs(stdout);
        resolve(typeof parsed === "string" ? { state: "error", error: parsed } : { state: "ok", containers: parsed });
      });
    });
  }

  watch(onChange: () => void): () => void {
    const onLine = (line: string) => {
      if (NETNS_EVENTS.has(stringAt(parseJson(line), "Status") ?? "")) onChange();
    };
    return keepListening((lineOut, onEnd) => {
      const args = ["events", "--format", "json", "--filter", "type=container"];
      // Through setpriv --pdeathsig: it ends with the thread that started it even when pktpath is
      // killed (SIGKILL runs no exit hook, and a podman events left behind listens forever).
      const c = SETPRIV ? spawn(SETPRIV, ["--pdeathsig", "TERM", "--", this.command, ...args], { stdio: ["ignore", "pipe", "ignore"] })
        : spawn(this.command, args, { stdio: ["ignore", "pipe", "ignore"] });
      track(c);
      // It listens for the life of the namer and must not keep the process alive by itself.
      c.unref();
      if (c.stdout instanceof Socket) c.stdout.unref();
      c.stdout?.setEncoding("utf8");
      c.stdout?.on("data", lineReader(lineOut));
      // No podman here: nothing to listen to, ever.
      c.on("error", (e: NodeJS.ErrnoException) => onEnd(e.code === "ENOENT"));
      // setpriv found no podman to run: 127, as a shell says.
      c.on("exit", (code) => onEnd(SETPRIV !== undefined && code === 127));
      return { close: () => void c.kill("SIGTERM") };
    }, onLine, onChange);
  }
}
