// REST calls of the dashboard, parsed at the boundary like everything else that comes off the wire.
import { err, type Result } from "../../shared/result.ts";
import type { Ping } from "../../shared/types.ts";
import { parsePing } from "../../shared/validate.ts";

/** Query string carrying the page's ?token= to the API when the server asks for one. */
export function tokenQuery(): string {
  const token = new URLSearchParams(location.search).get("token");
  return token ? `?token=${encodeURIComponent(token)}` : "";
}

export async function fetchPing(id: string, signal?: AbortSignal): Promise<Result<Ping>> {
  let res: Response;
  try {
    res = await fetch(`/api/pings/${encodeURIComponent(id)}${tokenQuery()}`, { signal, headers: { accept: "application/json" } });
  } catch (e) {
    return err(`could not reach the server: ${e instanceof Error ? e.message : String(e)}`);
  }
  if (res.status === 404) return err(`the server does not know ping ${id} (it may have aged out)`);
  if (!res.ok) return err(`GET /api/pings/${id} answered ${res.status}`);
  let body: unknown;
  try {
    body = await res.json();
  } catch {
    return err(`GET /api/pings/${id} did not answer JSON`);
  }
  return parsePing(body);
}

/**
 * "Save capture": the browser downloads GET /api/capture itself (Content-Disposition names the file),
 * so a capture of any size goes straight to disk instead of through page memory.
 */
export function downloadCapture(): void {
  const a = document.createElement("a");
  a.href = `/api/capture${tokenQuery()}`;
  a.download = "";
  a.click();
}

/** `#/ping/<id>` → id; anything else → undefined. */
export function pingIdFromHash(hash: string): string | undefined {
  const m = /^#\/ping\/([^/?#]+)$/.exec(hash);
  if (!m?.[1]) return undefined;
  try {
    return decodeURIComponent(m[1]);
  } catch {
    return undefined;
  }
}

export function hashForPing(id: string): string {
  return `#/ping/${encodeURIComponent(id)}`;
}
