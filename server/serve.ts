// `pktpath serve`: the HTTP API, the built client with SPA fallback, and the WebSocket stream.
import { stat } from "node:fs/promises";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { fileURLToPath } from "node:url";
import express, { type NextFunction, type Request, type Response } from "express";
import { CaptureLog, sendCapture } from "./captureLog.ts";
import { listRoutes, type FilterControl } from "./listRoutes.ts";
import type { Pipeline } from "./pipeline.ts";
import { checkRequest, checkUpgrade, makePolicy, SECURITY_HEADERS, TOKEN_COOKIE, type AccessPolicy } from "./security.ts";
import { StreamHub, type StreamOptions } from "./stream.ts";

export const DEFAULT_DIST_DIR = fileURLToPath(new URL("../client/dist", import.meta.url));

export interface ServeOptions {
  host: string;
  port: number;
  token?: string;
  distDir?: string;
  stream?: StreamOptions;
  /** events kept for GET /api/capture (the newest; default 500,000) */
  captureLogEvents?: number;
  /** the live capture filter behind GET/PUT /api/filter; without it those answer 501 */
  filter?: FilterControl;
}

export interface RunningServer {
  url: string;
  close(): Promise<void>;
}

/**
 * `policy()` is read per request: with --port 0 the allowed Host is known only once bound. `log` is
 * what GET /api/capture serves; it must follow the pipeline from before it starts.
 */
export function createApp(pipeline: Pipeline, policy: () => AccessPolicy, distDir = DEFAULT_DIST_DIR,
  log: CaptureLog = CaptureLog.follow(pipeline).log, filter?: FilterControl): express.Express {
  const app = express();
  app.disable("x-powered-by");
  app.set("etag", false);
  app.use((req, res, next) => {
    res.set(SECURITY_HEADERS);
    const url = new URL(req.originalUrl, "http://x");
    const verdict = checkRequest(policy(), req.headers, url);
    if (!verdict.ok) return void res.status(verdict.status).json({ error: verdict.message, code: verdict.code });
    // A page opened with ?token= keeps it as a cookie, so its API calls and its stream carry it.
    const token = policy().token;
    if (token !== undefined && url.searchParams.get("token") === token) {
      res.cookie(TOKEN_COOKIE, token, { httpOnly: true, sameSite: "strict", path: "/" });
    }
    next();
  });

  const api = express.Router();
  api.get("/health", (_req, res) => {
    const { source, live, events, lost } = pipeline.stats();
    res.json({ source, live, events, lost });
  });
  listRoutes(api, pipeline, filter);
  api.get("/pings/:id", (req, res) => {
    const ping = pipeline.store.get(req.params.id);
    if (ping === undefined) return void res.status(404).json({ error: `no ping ${JSON.stringify(req.params.id)}` });
    res.json(ping);
  });
  api.get("/capture", (_req, res, next) => {
    // Past the headers an error can only cut the download short: the client sees a truncated file.
    sendCapture(res, log, pipeline.source.name).catch((e: unknown) => (res.headersSent ? res.destroy() : next(e)));
  });
  api.use((req, res) => void res.status(404).json({ error: `no route ${req.method} ${req.baseUrl}${req.path}` }));
  app.use("/api", api);

  app.use(express.static(distDir, { index: "index.html", fallthrough: true }));
  // The client routes in the browser: any other GET answers index.html.
  app.use(async (req, res, next) => {
    if (req.method !== "GET" && req.method !== "HEAD") return next();
    const index = `${distDir}/index.html`;
    const built = await stat(index).then((s) => s.isFile(), () => false);
    if (!built) return void res.status(503).type("text/plain").send("pktpath: the dashboard is not built; run `npm run build:client`\n");
    res.sendFile(index);
  });
  app.use((_err: unknown, _req: Request, res: Response, _next: NextFunction) => {
    // No stack traces to the client; the message names only what is wrong with the request.
    const status = typeof _err === "object" && _err !== null && "status" in _err && typeof _err.status === "number"
      ? _err.status : 500;
    res.status(status).json({ error: status === 500 ? "internal error" : "bad request" });
  });
  return app;
}

function hostForUrl(host: string): string {
  return host.includes(":") ? `[${host}]` : host;
}

/** Listens; resolves once the port is bound (port 0 → a free one, reported in `url`). */
export async function startServer(pipeline: Pipeline, opts: ServeOptions): Promise<RunningServer> {
  let policy = makePolicy(opts.host, opts.port, opts.token);
  const capture = CaptureLog.follow(pipeline, opts.captureLogEvents);
  const app = createApp(pipeline, () => policy, opts.distDir, capture.log, opts.filter);
  const server: Server = createServer(app);
  const hub = new StreamHub(pipeline, opts.stream);
  server.on("upgrade", (req, socket, head) => {
    const url = new URL(req.url ?? "/", "http://x");
    const refuse = (status: string) => {
      socket.end(`HTTP/1.1 ${status}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
    };
    if (url.pathname !== "/api/stream") return refuse("404 Not Found");
    const verdict = checkUpgrade(policy, req.headers, url);
    if (!verdict.ok) return refuse(verdict.status === 401 ? "401 Unauthorized" : "403 Forbidden");
    hub.handleUpgrade(req, socket, head);
  });
  await new Promise<void>((resolve, reject) => {
    const failed = (e: Error): void => {
      capture.detach();
      reject(e);
    };
    server.once("error", failed);
    server.listen(opts.port, opts.host, () => {
      server.off("error", failed);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;
  policy = makePolicy(opts.host, port, opts.token);
  return {
    url: `http://${hostForUrl(opts.host)}:${port}`,
    close: async () => {
      capture.detach();
      hub.close();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
