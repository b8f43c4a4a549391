// Pings are the exchanges of kind icmp-echo (exchanges.ts pairs them): the same objects, which have
// every Ping field. This module keeps the names the page and the CLI use for them.
import type { Exchange, Ping } from "./types.ts";

export { echoSideOf, effectiveDrop, type EchoSide } from "./drops.ts";

export function isPing(ex: Exchange): ex is Exchange & Ping {
  return ex.kind === "icmp-echo" && ex.icmpId !== undefined && ex.seq !== undefined && ex.status !== "refused";
}
