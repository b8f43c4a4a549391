// The record layout of bpf/pktpath.h, read from the compiled object's BTF: the header is the one
// definition, and every offset the decoder and the ring reader use comes from here.
import { err, ok, type Result } from "../../shared/result.ts";
import { readObjectBtf, type Btf, type BtfStruct } from "./btf.ts";

/** struct pktpath_event's fields the decoder reads. */
export const EVENT_FIELDS = ["ts_ns", "skbaddr", "location", "clone_of", "netns_ino", "ifindex", "len", "drop_reason",
  "ifindex2", "nf_netns", "kind", "nf_pf", "nf_hook", "nf_index", "flags", "pkt", "aux", "ifname", "ifname2"] as const;
/** struct pktpath_pkt's fields. */
export const PKT_FIELDS = ["family", "l4proto", "ttl", "frag", "icmp_type", "icmp_code", "tcp_flags", "aux_kind",
  "sport", "dport", "frag_off", "dns_id", "ip_id", "vni", "saddr", "daddr"] as const;

export type EventField = (typeof EVENT_FIELDS)[number];
export type PktField = (typeof PKT_FIELDS)[number];

export interface RecordLayout {
  /** sizeof(struct pktpath_event) */
  eventSize: number;
  /** sizeof(struct pktpath_slot): the 8-byte frame and the event */
  slotSize: number;
  /** byte offset of the event inside a slot */
  slotEvent: number;
  ev: Record<EventField, number>;
  /** offsets inside a struct pktpath_pkt */
  pkt: Record<PktField, number>;
  /** byte sizes of the fields, for the checks of test/decode.test.ts */
  sizes: Record<EventField, number> & Record<`pkt.${PktField}`, number>;
  /** enum pktpath_event_kind: value → "net_dev_queue" (the enumerator without PKTPATH_EV_, lower case) */
  kinds: ReadonlyMap<number, string>;
  /** enum pktpath_aux_kind, the same way ("vxlan", "quoted", ...) */
  auxKinds: ReadonlyMap<number, string>;
  /** enum pktpath_stat: "lost" → 0, "collisions" → 1 */
  stats: ReadonlyMap<string, number>;
  /** sizeof(struct pktpath_filter) */
  filterSize: number;
}

function offsets<F extends string>(st: BtfStruct, fields: readonly F[], what: string): Result<{ at: Record<F, number>; size: Record<F, number> }> {
  const at = {} as Record<F, number>;
  const size = {} as Record<F, number>;
  for (const f of fields) {
    const m = st.members.find((x) => x.name === f);
    if (!m) return err(`struct ${what} has no field ${f}: bpf/ and the decoder disagree`);
    at[f] = m.offset;
    size[f] = m.size;
  }
  return ok({ at, size });
}

function enumNames(btf: Btf, name: string, prefix: string): Result<Map<number, string>> {
  const values = btf.enumValues(name);
  if (!values) return err(`the object's BTF has no enum ${name}`);
  const out = new Map<number, string>();
  for (const [v, n] of values) out.set(v, n.startsWith(prefix) ? n.slice(prefix.length).toLowerCase() : n.toLowerCase());
  return ok(out);
}

export function layoutFromBtf(btf: Btf): Result<RecordLayout> {
  const ev = btf.struct("pktpath_event"), pkt = btf.struct("pktpath_pkt"), slot = btf.struct("pktpath_slot");
  const filter = btf.struct("pktpath_filter");
  if (!ev || !pkt || !slot || !filter) return err("the object's BTF lacks struct pktpath_event, pktpath_pkt, pktpath_slot or pktpath_filter");
  const e = offsets(ev, EVENT_FIELDS, "pktpath_event");
  if (!e.ok) return e;
  const p = offsets(pkt, PKT_FIELDS, "pktpath_pkt");
  if (!p.ok) return p;
  const slotEvent = slot.members.find((m) => m.name === "ev")?.offset;
  if (slotEvent === undefined) return err("struct pktpath_slot has no field ev");
  const kinds = enumNames(btf, "pktpath_event_kind", "PKTPATH_EV_");
  const auxKinds = enumNames(btf, "pktpath_aux_kind", "PKTPATH_AUX_");
  const stats = enumNames(btf, "pktpath_stat", "PKTPATH_STAT_");
  if (!kinds.ok) return kinds;
  if (!auxKinds.ok) return auxKinds;
  if (!stats.ok) return stats;
  const sizes = { ...e.value.size } as RecordLayout["sizes"];
  for (const f of PKT_FIELDS) sizes[`pkt.${f}`] = p.value.size[f];
  return ok({
    eventSize: ev.size, slotSize: slot.size, slotEvent, ev: e.value.at, pkt: p.value.at, sizes,
    kinds: kinds.value, auxKinds: auxKinds.value,
    stats: new Map([...stats.value].map(([v, n]) => [n, v])), filterSize: filter.size,
  });
}

/** The layout of a compiled pktpath object (bpf/pktpath.bpf.o or a variant). */
export async function readRecordLayout(objPath: string): Promise<Result<RecordLayout>> {
  const btf = await readObjectBtf(objPath);
  if (!btf.ok) return btf;
  const layout = layoutFromBtf(btf.value);
  return layout.ok ? layout : err(`${objPath}: ${layout.error}`);
}
