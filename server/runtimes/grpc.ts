// Unary gRPC calls over a unix socket, on Node's own HTTP/2: a request is one length-prefixed message,
// the answer one message and a grpc-status trailer. Enough for the CRI's list and status calls.
import { connect, constants, type ClientHttp2Session } from "node:http2";
import { createConnection } from "node:net";
import { err, ok, type Result } from "../../shared/result.ts";

/** The gRPC status codes this client tells apart. */
export const GRPC_UNIMPLEMENTED = 12;
export const GRPC_UNAVAILABLE = 14;

export interface GrpcError {
  /** grpc-status, or UNAVAILABLE when the socket could not be reached */
  code: number;
  message: string;
  /** the socket is missing or nobody listens on it: the runtime is not running */
  absent: boolean;
}

/** Five bytes before each message: compressed flag (always 0 here), then its length, big-endian. */
function frame(body: Uint8Array): Buffer {
  const out = Buffer.alloc(5 + body.length);
  out.writeUInt32BE(body.length, 1);
  out.set(body, 5);
  return out;
}

function unframe(data: Buffer): Result<Uint8Array> {
  if (data.length < 5) return err(`answer of ${data.length} bytes has no message`);
  if (data[0] !== 0) return err("answer is compressed, which was not asked for");
  const len = data.readUInt32BE(1);
  if (data.length < 5 + len) return err(`answer truncated: ${data.length - 5} of ${len} bytes`);
  return ok(new Uint8Array(data.subarray(5, 5 + len)));
}

const ABSENT_CODES = new Set(["ENOENT", "ECONNREFUSED", "ENOTSOCK"]);

function errnoCode(e: Error): string {
  return "code" in e && typeof e.code === "string" ? e.code : "";
}

export type CallResult = { ok: true; value: Uint8Array } | { ok: false; error: GrpcError };

export class GrpcUnixClient {
  private session: ClientHttp2Session | null = null;
  private inFlight = 0;

  constructor(readonly socketPath: string, private readonly timeoutMs = 2000) {}

  /** Calls `/package.Service/Method`; the answer's message bytes, or why not. */
  async call(path: string, request: Uint8Array): Promise<CallResult> {
    let session: ClientHttp2Session;
    try {
      session = this.open();
    } catch (e) {
      return { ok: false, error: { code: GRPC_UNAVAILABLE, message: e instanceof Error ? e.message : String(e), absent: false } };
    }
    // Referenced while a call is pending, so an awaited answer keeps the process alive; idle between
    // polls, the open socket must not.
    if (this.inFlight++ === 0) session.ref();
    try {
      return await this.request(session, path, request);
    } finally {
      if (--this.inFlight === 0 && !session.destroyed) session.unref();
    }
  }

  private request(session: ClientHttp2Session, path: string, request: Uint8Array): Promise<CallResult> {
    return new Promise((resolve) => {
      const fail = (code: number, message: string, absent = false) => resolve({ ok: false, error: { code, message, absent } });
      const stream = session.request({
        [constants.HTTP2_HEADER_METHOD]: "POST",
        [constants.HTTP2_HEADER_PATH]: path,
        "content-type": "application/grpc",
        te: "trailers",
        "grpc-timeout": `${this.timeoutMs}m`,
      });
      const chunks: Buffer[] = [];
      let status: string | undefined;
      let grpcMessage = "";
      const takeStatus = (h: Record<string, unknown>) => {
        const s = h["grpc-status"];
        if (typeof s === "string") status = s;
        const m = h["grpc-message"];
        if (typeof m === "string") grpcMessage = decodeURIComponent(m);
      };
      stream.setTimeout(this.timeoutMs, () => stream.close(constants.NGHTTP2_CANCEL));
      stream.on("response", (h) => takeStatus(h));
      stream.on("trailers", (h) => takeStatus(h));
      stream.on("data", (c: Buffer) => chunks.push(c));
      stream.on("error", (e: Error) => {
        // A failed connect cancels the stream; the socket's own error is its cause.
        const cause = e.cause instanceof Error ? e.cause : e;
        fail(GRPC_UNAVAILABLE, cause.message, ABSENT_CODES.has(errnoCode(cause)));
      });
      stream.on("close", () => {
        if (status === undefined) return fail(GRPC_UNAVAILABLE, `${path}: no answer in ${this.timeoutMs} ms`);
        if (status !== "0") return fail(Number(status), `${path}: ${grpcMessage || `status ${status}`}`);
        const body = unframe(Buffer.concat(chunks));
        resolve(body.ok ? body : { ok: false, error: { code: 13, message: `${path}: ${body.error}`, absent: false } });
      });
      stream.end(frame(request));
    });
  }

  close(): void {
    this.session?.close();
    this.session = null;
  }

  private open(): ClientHttp2Session {
    if (this.session && !this.session.closed && !this.session.destroyed) return this.session;
    const session = connect("http://localhost", { createConnection: () => createConnection(this.socketPath) });
    // A failed connect also fails the pending stream, which reports it; this only keeps the session's
    // own error event from going unhandled.
    session.on("error", () => undefined);
    session.on("close", () => {
      if (this.session === session) this.session = null;
    });
    this.session = session;
    return session;
  }
}
