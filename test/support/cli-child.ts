// Runs `node bin/pktpath.js …` as a child: whole runs with their exit status and output, or a `serve`
// that is waited for until its ready line and always stopped afterwards.
import { spawn, type ChildProcess } from "node:child_process";
import { once } from "node:events";
import { fileURLToPath } from "node:url";

export const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const BIN = fileURLToPath(new URL("../../bin/pktpath.js", import.meta.url));

export interface RunResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs to the end (killed after timeoutMs). */
export async function runCli(args: string[], timeoutMs = 20_000): Promise<RunResult> {
  const child = spawn(process.execPath, [BIN, ...args], { cwd: ROOT, stdio: ["ignore", "pipe", "pipe"] });
  let stdout = "", stderr = "";
  child.stdout.setEncoding("utf8").on("data", (d: string) => (stdout += d));
  child.stderr.setEncoding("utf8").on("data", (d: string) => (stderr += d));
  const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
  const [code] = (await once(child, "close")) as [number | null];
  clearTimeout(timer);
  return { code, stdout, stderr };
}

export interface ServeChild {
  url: string;
  /** the source the ready line names */
  source: string;
  /** performance.now() when the ready line was read */
  readyAtMs: number;
  child: ChildProcess;
  /** stderr so far */
  stderr: () => string;
  /** SIGTERM, then waits for the exit; resolves with the exit code. */
  stop: () => Promise<number | null>;
}

const READY = /^pktpath: serving (http:\/\/\S+) \(source: (.+)\)$/m;

/** Starts `serve --port 0 …` (or the --port in args; under `wrapper`, e.g. setpriv, when given) and resolves once the ready line names the URL. */
export async function startServe(args: string[], timeoutMs = 15_000, wrapper: string[] = []): Promise<ServeChild> {
  const port = args.includes("--port") ? [] : ["--port", "0"];
  const argv = [...wrapper, process.execPath, BIN, "serve", ...port, ...args];
  const child = spawn(argv[0]!, argv.slice(1), { cwd: ROOT, stdio: ["ignore", "pipe", "pipe"] });
  let stdout = "", stderr = "";
  child.stderr.setEncoding("utf8").on("data", (d: string) => (stderr += d));
  const exited = once(child, "exit").then(([code]) => code as number | null);
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGTERM");
    return exited;
  };
  const [url, source] = await new Promise<[string, string]>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no ready line in ${timeoutMs} ms; stderr: ${stderr}`)), timeoutMs);
    child.stdout.setEncoding("utf8").on("data", (d: string) => {
      stdout += d;
      const m = READY.exec(stdout);
      if (m?.[1] !== undefined) {
        clearTimeout(timer);
        resolve([m[1], m[2] ?? ""]);
      }
    });
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`serve exited with ${code} before its ready line; stderr: ${stderr}`));
    });
  }).catch(async (e: unknown) => {
    await stop();
    throw e;
  });
  return { url, source, readyAtMs: performance.now(), child, stderr: () => stderr, stop };
}

/** Polls `check` until it returns a value (not undefined) or the time is up. */
export async function waitFor<T>(check: () => Promise<T | undefined>, timeoutMs = 5000, what = "condition"): Promise<T> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const v = await check();
    if (v !== undefined) return v;
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
