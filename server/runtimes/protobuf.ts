// The protobuf wire format, as much of it as the CRI client needs: writing strings, bools, unsigned
// varints, nested messages and string maps; reading a message into its fields by number. The field
// numbers themselves belong to each message and live beside it (cri.ts).
import { err, ok, type Result } from "../../shared/result.ts";

const WIRE_VARINT = 0;
const WIRE_I64 = 1;
const WIRE_LEN = 2;
const WIRE_I32 = 5;

function varint(n: number): number[] {
  const out: number[] = [];
  // Arithmetic, not bit operators: those truncate to 32 bits, and int64 fields can be larger.
  let v = Math.floor(n);
  while (v >= 0x80) {
    out.push((v % 0x80) | 0x80);
    v = Math.floor(v / 0x80);
  }
  out.push(v);
  return out;
}

/** Builds one message. Fields at their default value (empty, false, 0) are left out, as proto3 does. */
export class ProtoWriter {
  private readonly bytes: number[] = [];

  uint(field: number, n: number): this {
    if (n === 0) return this;
    this.bytes.push(...varint(field * 8 + WIRE_VARINT), ...varint(n));
    return this;
  }

  bool(field: number, b: boolean): this {
    return this.uint(field, b ? 1 : 0);
  }

  bytesField(field: number, data: Uint8Array, always = false): this {
    if (data.length === 0 && !always) return this;
    this.bytes.push(...varint(field * 8 + WIRE_LEN), ...varint(data.length), ...data);
    return this;
  }

  string(field: number, s: string): this {
    return this.bytesField(field, new TextEncoder().encode(s));
  }

  strings(field: number, list: readonly string[]): this {
    for (const s of list) this.bytesField(field, new TextEncoder().encode(s), true);
    return this;
  }

  /** A nested message; written even when empty, since presence can matter (a filter, a config). */
  message(field: number, m: ProtoWriter): this {
    return this.bytesField(field, m.finish(), true);
  }

  /** map<string, string>: on the wire, one entry message (key = 1, value = 2) per pair. */
  map(field: number, entries: Record<string, string>): this {
    for (const [k, v] of Object.entries(entries)) this.message(field, new ProtoWriter().string(1, k).string(2, v));
    return this;
  }

  finish(): Uint8Array {
    return Uint8Array.from(this.bytes);
  }
}

/** A field as read: a varint, or the bytes of a length-delimited field (string, message, map entry). */
type FieldValue = { kind: "varint"; value: number } | { kind: "bytes"; value: Uint8Array };

/** One decoded message: every occurrence of each field number, in order. */
export class ProtoMessage {
  constructor(private readonly fields: Map<number, FieldValue[]>) {}

  /** The last occurrence wins for a singular field, as the spec says. */
  private last(field: number): FieldValue | undefined {
    const all = this.fields.get(field);
    return all?.[all.length - 1];
  }

  uint(field: number): number {
    const v = this.last(field);
    return v?.kind === "varint" ? v.value : 0;
  }

  bool(field: number): boolean {
    return this.uint(field) !== 0;
  }

  string(field: number): string {
    const v = this.last(field);
    return v?.kind === "bytes" ? new TextDecoder().decode(v.value) : "";
  }

  /** A nested message (empty when absent); an undecodable one is an error. */
  message(field: number): Result<ProtoMessage> {
    const v = this.last(field);
    return v?.kind === "bytes" ? decodeMessage(v.value) : ok(new ProtoMessage(new Map()));
  }

  messages(field: number): Result<ProtoMessage[]> {
    const out: ProtoMessage[] = [];
    for (const v of this.fields.get(field) ?? []) {
      if (v.kind !== "bytes") return err(`field ${field}: expected a message`);
      const m = decodeMessage(v.value);
      if (!m.ok) return m;
      out.push(m.value);
    }
    return ok(out);
  }

  map(field: number): Result<Map<string, string>> {
    const entries = this.messages(field);
    if (!entries.ok) return entries;
    return ok(new Map(entries.value.map((e) => [e.string(1), e.string(2)])));
  }
}

/**
 * Reads an unsigned varint at `pos`; undefined when it runs past the end or past 10 bytes. Beyond 2^53
 * it loses precision, which only the nanosecond timestamps reach, and those are not read.
 */
function readVarint(buf: Uint8Array, pos: number): { value: number; next: number } | undefined {
  let value = 0;
  let scale = 1;
  for (let i = pos; i < buf.length && i < pos + 10; i++) {
    const b = buf[i] ?? 0;
    value += (b & 0x7f) * scale;
    scale *= 0x80;
    if ((b & 0x80) === 0) return { value, next: i + 1 };
  }
  return undefined;
}

export function decodeMessage(buf: Uint8Array): Result<ProtoMessage> {
  const fields = new Map<number, FieldValue[]>();
  let pos = 0;
  while (pos < buf.length) {
    const tag = readVarint(buf, pos);
    if (tag === undefined) return err(`bad field tag at byte ${pos}`);
    const field = Math.floor(tag.value / 8);
    const wire = tag.value % 8;
    pos = tag.next;
    let value: FieldValue | undefined;
    if (wire === WIRE_VARINT) {
      const v = readVarint(buf, pos);
      if (v === undefined) return err(`field ${field}: bad varint`);
      value = { kind: "varint", value: v.value };
      pos = v.next;
    } else if (wire === WIRE_LEN) {
      const len = readVarint(buf, pos);
      if (len === undefined || len.next + len.value > buf.length) return err(`field ${field}: length past the end`);
      value = { kind: "bytes", value: buf.subarray(len.next, len.next + len.value) };
      pos = len.next + len.value;
    } else if (wire === WIRE_I64 || wire === WIRE_I32) {
      // Fixed-width fields (double, fixed64, float...) are not used by the messages read here: skipped.
      pos += wire === WIRE_I64 ? 8 : 4;
      if (pos > buf.length) return err(`field ${field}: fixed-width value past the end`);
    } else {
      return err(`field ${field}: unsupported wire type ${wire}`);
    }
    if (field === 0) return err("field number 0");
    if (value === undefined) continue;
    const list = fields.get(field);
    if (list) list.push(value);
    else fields.set(field, [value]);
  }
  return ok(new ProtoMessage(fields));
}
