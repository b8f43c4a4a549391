// `pktpath serve`: the HTTP API, the built client with SPA fallback, and the WebSocket stream.
import { stat } from "node:fs/promises";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { fileURLToPath } from "node:url";
import express, { type NextFunction, type Request, type Response } from "express";
import { sendCapture, type CaptureFeedSource } from "./captureLog.ts";
import { atMost, onePerConnection } from "./connections.ts";
import { listRoutes, send, type FilterControl } from "./listRoutes.ts";
import type { ServedPipeline } from "./pipeline.ts";
import {
  addressKind, checkHost, checkToken, checkUpgrade, closedPolicy, generateToken, makePolicy, SECURITY_HEADERS, TOKEN_COOKIE_PATH,
  type AccessPolicy,
} from "./security.ts";
import { StreamHub, type StreamCounters, type StreamOptions } from "./stream.ts";

export const DEFAULT_DIST_DIR = fileURLToPath(new URL("../client/dist", import.meta.url));

export interface ServeOptions {
  host: string;
  port: number;
  token?: string;
  distDir?: string;
  stream?: StreamOptions;
  /** events kept for GET /api/capture (the newest; default 150,000) */
  captureLogEvents?: number;
  /** a capture download whose socket takes nothing for this long is cut (default 30 s) */
  captureStallMs?: number;
  /** TCP connections at once, WebSocket ones included; more are closed as they come (default 256) */
  maxConnections?: number;
  /** the live capture filter behind GET/PUT /api/filter; without it those answer 501 */
  filter?: FilterControl;
}

export interface AppOptions {
  distDir?: string;
  captureStallMs?: number;
  /** the live capture filter behind GET/PUT /api/filter; without it those answer 501 */
  filter?: FilterControl;
}

/** Capture downloads at once: each one pins the log as it was when it began. */
export const MAX_CAPTURE_DOWNLOADS = 2;

export interface RunningServer {
  url: string;
  /** the token in force: the one given, or the one generated for a bind that is not loopback */
  token?: string;
  /** what the stream skipped, closed and refused so far */
  streamCounters(): StreamCounters;
  close(): Promise<void>;
}

/**
 * `policy()` is read per request: the allowed Host (and whether a token is needed) is known only once
 * bound. Every request is checked for its Host; the API's (not the page's files) for the token too. `log` is
 * what GET /api/capture serves; it must follow the pipeline from before it starts.
 */
export function createApp(pipeline: ServedPipeline, policy: () => AccessPolicy, distDir = DEFAULT_DIST_DIR,
  log: CaptureFeedSource = pipeline.followCapture().log, opts: AppOptions = {}): express.Express {
  const app = express();
  app.disable("x-powered-by");
  app.set("etag", false);
  app.use((_req, res, next) => {
    res.set(SECURITY_HEADERS);
    next();
  });
  app.use(onePerConnection());
  app.use((req, res, next) => {
    const p = policy();
    const verdict = checkHost(p, req.headers);
    if (!verdict.ok) return void res.status(verdict.status).json({ error: verdict.message, code: verdict.code });
    // A page opened with ?token= keeps it as a cookie, so its API calls and its stream carry it.
    if (p.token !== undefined && new URL(req.originalUrl, "http://x").searchParams.get("token") === p.token) {
      res.cookie(p.cookie, p.token, { httpOnly: true, sameSite: "strict", path: TOKEN_COOKIE_PATH });
    }
    next();
  });

  const api = express.Router();
  // On the router, not by path: whatever Express routes here (it ignores case: /API/pings) is guarded.
  api.use((req, res, next) => {
    const verdict = checkToken(policy(), req.headers, new URL(req.originalUrl, "http://x"));
    if (!verdict.ok) return void res.status(verdict.status).json({ error: verdict.message, code: verdict.code });
    next();
  });
  api.get("/health", (_req, res) => {
    const { source, live, events, lost, lostBy, collisions, sampled } = pipeline.stats();
    res.json({ source, live, events, lost, lostBy, collisions, ...(sampled === undefined ? {} : { sampled }), correlated: pipeline.correlatedEvents() });
  });
  listRoutes(api, pipeline, opts.filter);
  api.get("/pings/:id", async (req, res) => {
    send(res, await pipeline.query({ type: "ping", id: req.params.id }));
  });
  api.get("/capture", atMost(MAX_CAPTURE_DOWNLOADS, "capture downloads"), (_req, res, next) => {
    // Past the headers an error can only cut the download short: the client sees a truncated file.
    sendCapture(res, log, pipeline.source.name, new Date(), opts.captureStallMs)
      .catch((e: unknown) => (res.headersSent ? res.destroy() : next(e)));
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
export async function startServer(pipeline: ServedPipeline, opts: ServeOptions): Promise<RunningServer> {
  // Until the kernel says what the host resolved to, nothing passes.
  let policy = closedPolicy();
  const capture = pipeline.followCapture(opts.captureLogEvents);
  const app = createApp(pipeline, () => policy, opts.distDir, capture.log, { captureStallMs: opts.captureStallMs, filter: opts.filter });
  const server: Server = createServer(app);
  // Each connection may hold an answer it does not read (bounded by onePerConnection): so may not too many.
  server.maxConnections = opts.maxConnections ?? 256;
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
  const { address, port } = server.address() as AddressInfo;
  // Anyone who can reach a bind beyond loopback could watch this machine's traffic: never open.
  const token = opts.token ?? (addressKind(address) === "loopback" ? undefined : generateToken());
  policy = makePolicy(opts.host, port, token, address);
  return {
    url: `http://${hostForUrl(opts.host)}:${port}`,
    ...(token === undefined ? {} : { token }),
    streamCounters: () => hub.counters(),
    close: async () => {
      capture.detach();
      await hub.close();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
