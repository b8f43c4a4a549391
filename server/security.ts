// Who may talk to the dashboard. Loopback binds are open to this machine's browsers only (Host and
// Origin checked against DNS rebinding and cross-site pages); any other bind needs the token. Which
// is which is decided by the address the server bound, never by the name it was given.
import { randomBytes, timingSafeEqual } from "node:crypto";
import type { IncomingHttpHeaders } from "node:http";
import { isIP } from "node:net";

/**
 * The cookie that keeps a token given as ?token=. Browsers send a host's cookies to every port of it,
 * so two dashboards on one machine would overwrite each other's under one name: the port is in it.
 * Its Path is the API's, so other local services see it only on requests to their own /api.
 */
export function tokenCookie(port: number): string {
  return `pktpath_token_${port}`;
}
export const TOKEN_COOKIE_PATH = "/api";

export interface AccessPolicy {
  /** required on every API request and WebSocket upgrade when set */
  token?: string;
  /** host:port values a request's Host header may carry */
  allowedHosts: Set<string>;
  /** a wildcard bind answers under any name: then the token alone guards it */
  anyHost: boolean;
  /** the name of the token's cookie */
  cookie: string;
}

/** What kind of address a server is bound to: a name is none of these until it is resolved. */
export type BindKind = "loopback" | "wildcard" | "other";

/** The 8 groups of an IPv6 address (zone dropped, an embedded IPv4 as two groups); null if it is not one. */
function ipv6Groups(text: string): number[] | null {
  if (isIP(text) !== 6) return null;
  let t = text.split("%")[0] ?? text;
  const v4 = /(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(t);
  if (v4) {
    const [a, b, c, d] = v4.slice(1).map(Number) as [number, number, number, number];
    t = `${t.slice(0, v4.index)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const [head = "", tail] = t.split("::");
  const left = head === "" ? [] : head.split(":");
  const right = tail === undefined || tail === "" ? [] : tail.split(":");
  const fill = tail === undefined ? [] : Array<string>(8 - left.length - right.length).fill("0");
  return [...left, ...fill, ...right].map((g) => parseInt(g, 16));
}

/** Decided by the address (as the kernel bound it), never by a name: `127.lan.example` may be anywhere. */
export function addressKind(address: string): BindKind {
  if (isIP(address) === 4) {
    if (address === "0.0.0.0") return "wildcard";
    return address.startsWith("127.") ? "loopback" : "other";
  }
  const g = ipv6Groups(address);
  if (g === null) return "other";
  if (g.every((x) => x === 0)) return "wildcard";
  if (g.slice(0, 7).every((x) => x === 0) && g[7] === 1) return "loopback";
  // ::ffff:a.b.c.d is the IPv4 address a.b.c.d.
  if (g.slice(0, 5).every((x) => x === 0) && g[5] === 0xffff) {
    const [hi = 0, lo = 0] = g.slice(6);
    return addressKind(`${hi >> 8}.${hi & 0xff}.${lo >> 8}.${lo & 0xff}`);
  }
  return "other";
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

const bracketed = (host: string): string => (host.includes(":") ? `[${host}]` : host);

/**
 * `host` is what --host said (an address or a name), `address` what it bound to. Any bind but loopback
 * needs a token: the caller generates one when none was given.
 */
export function makePolicy(host: string, port: number, token: string | undefined, address = host): AccessPolicy {
  const kind = addressKind(address);
  if (kind !== "loopback" && token === undefined) throw new Error(`a bind to ${address} needs a token`);
  const names = kind === "loopback" ? ["127.0.0.1", "localhost", "[::1]"] : [];
  names.push(bracketed(host.toLowerCase()), bracketed(address.toLowerCase()));
  const allowedHosts = new Set(names.map((n) => `${n}:${port}`));
  // Port 80 is the one a Host header may leave out.
  if (port === 80) for (const n of names) allowedHosts.add(n);
  const policy: AccessPolicy = { allowedHosts, anyHost: kind === "wildcard", cookie: tokenCookie(port) };
  if (token !== undefined) policy.token = token;
  return policy;
}

/** Before the server knows what it bound: nothing passes. */
export function closedPolicy(): AccessPolicy {
  return { allowedHosts: new Set(), anyHost: false, cookie: tokenCookie(0) };
}

function hostAllowed(policy: AccessPolicy, host: string | undefined): boolean {
  if (host === undefined) return false;
  if (policy.allowedHosts.has(host.toLowerCase())) return true;
  return policy.anyHost && policy.token !== undefined;
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

export function tokenFrom(policy: AccessPolicy, headers: IncomingHttpHeaders, url: URL): string | undefined {
  const auth = headers.authorization;
  if (auth?.startsWith("Bearer ")) return auth.slice(7).trim();
  return url.searchParams.get("token") ?? cookieValue(headers.cookie, policy.cookie);
}

export type Verdict = { ok: true } | { ok: false; status: 401 | 403; code: string; message: string };

/** Against DNS rebinding: every request, the page's files too. */
export function checkHost(policy: AccessPolicy, headers: IncomingHttpHeaders): Verdict {
  if (!hostAllowed(policy, headers.host)) {
    return { ok: false, status: 403, code: "bad_host", message: `Host ${JSON.stringify(headers.host ?? "")} is not this dashboard` };
  }
  return { ok: true };
}

/** What holds data (the API, the stream) needs the token when there is one; the page's files hold none. */
export function checkToken(policy: AccessPolicy, headers: IncomingHttpHeaders, url: URL): Verdict {
  if (policy.token !== undefined && !sameToken(tokenFrom(policy, headers, url), policy.token)) {
    return { ok: false, status: 401, code: "bad_token", message: "missing or wrong token" };
  }
  return { ok: true };
}

export function checkRequest(policy: AccessPolicy, headers: IncomingHttpHeaders, url: URL): Verdict {
  const host = checkHost(policy, headers);
  return host.ok ? checkToken(policy, headers, url) : host;
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
