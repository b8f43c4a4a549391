// Who may talk to the dashboard. Loopback binds are open to this machine's browsers only (Host and
// Origin checked against DNS rebinding and cross-site pages); any other bind needs the token.
import { randomBytes, timingSafeEqual } from "node:crypto";
import type { IncomingHttpHeaders } from "node:http";

export const TOKEN_COOKIE = "pktpath_token";

export interface AccessPolicy {
  /** required on every HTTP request and WebSocket upgrade when set */
  token?: string;
  /** host:port values a request's Host header may carry */
  allowedHosts: Set<string>;
}

const LOOPBACK = new Set(["127.0.0.1", "localhost", "::1", "[::1]"]);

export function isLoopbackHost(host: string): boolean {
  return LOOPBACK.has(host) || host.startsWith("127.");
}

export function generateToken(): string {
  return randomBytes(24).toString("base64url");
}

/** A token must be long enough to resist guessing and safe in a URL and a cookie. */
export function checkTokenText(token: string): string | null {
  if (token.length < 16) return "--token: at least 16 characters";
  if (!/^[A-Za-z0-9._~-]+$/.test(token)) return "--token: only letters, digits and . _ ~ -";
  return null;
}

export function makePolicy(bindHost: string, port: number, token: string | undefined): AccessPolicy {
  const names = isLoopbackHost(bindHost) ? ["127.0.0.1", "localhost", "[::1]"] : [bindHost.includes(":") ? `[${bindHost}]` : bindHost];
  const allowedHosts = new Set(names.map((n) => `${n}:${port}`));
  return token === undefined ? { allowedHosts } : { token, allowedHosts };
}

/** A wildcard bind answers under any name; then the token alone guards it. */
function hostAllowed(policy: AccessPolicy, host: string | undefined): boolean {
  if (host === undefined) return false;
  if (policy.allowedHosts.has(host.toLowerCase())) return true;
  return policy.token !== undefined && [...policy.allowedHosts].some((h) => h.startsWith("0.0.0.0:") || h.startsWith("[::]:"));
}

function sameToken(given: string | undefined, expected: string): boolean {
  if (given === undefined) return false;
  const a = Buffer.from(given), b = Buffer.from(expected);
  return a.length === b.length && timingSafeEqual(a, b);
}

export function cookieValue(header: string | undefined, name: string): string | undefined {
  if (header === undefined) return undefined;
  for (const part of header.split(";")) {
    const [k, ...v] = part.trim().split("=");
    if (k === name) return v.join("=");
  }
  return undefined;
}

export function tokenFrom(headers: IncomingHttpHeaders, url: URL): string | undefined {
  const auth = headers.authorization;
  if (auth?.startsWith("Bearer ")) return auth.slice(7).trim();
  return url.searchParams.get("token") ?? cookieValue(headers.cookie, TOKEN_COOKIE);
}

export type Verdict = { ok: true } | { ok: false; status: 401 | 403; code: string; message: string };

export function checkRequest(policy: AccessPolicy, headers: IncomingHttpHeaders, url: URL): Verdict {
  if (!hostAllowed(policy, headers.host)) {
    return { ok: false, status: 403, code: "bad_host", message: `Host ${JSON.stringify(headers.host ?? "")} is not this dashboard` };
  }
  if (policy.token !== undefined && !sameToken(tokenFrom(headers, url), policy.token)) {
    return { ok: false, status: 401, code: "bad_token", message: "missing or wrong token" };
  }
  return { ok: true };
}

/** Browsers always send Origin on a WebSocket upgrade: it must be this dashboard's own. */
export function checkUpgrade(policy: AccessPolicy, headers: IncomingHttpHeaders, url: URL): Verdict {
  const origin = headers.origin;
  if (origin !== undefined && origin !== `http://${headers.host}` && origin !== `https://${headers.host}`) {
    return { ok: false, status: 403, code: "bad_origin", message: `Origin ${JSON.stringify(origin)} may not open the stream` };
  }
  return checkRequest(policy, headers, url);
}

export const SECURITY_HEADERS: Record<string, string> = {
  "Content-Security-Policy":
    "default-src 'self'; connect-src 'self'; img-src 'self' data: blob:; style-src 'self' 'unsafe-inline'; object-src 'none'; frame-ancestors 'none'; base-uri 'none'",
  "X-Content-Type-Options": "nosniff",
  "X-Frame-Options": "DENY",
  "Referrer-Policy": "no-referrer",
  "Cross-Origin-Opener-Policy": "same-origin",
  "Cross-Origin-Resource-Policy": "same-origin",
};
