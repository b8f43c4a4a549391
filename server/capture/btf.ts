// Reads BTF (the kernel's compact type format): struct layouts from a compiled BPF object, and enum
// values from the running kernel (/sys/kernel/btf/vmlinux), so drop reasons are named by the kernel
// that produced them rather than by a table copied from some other version.
import { readFile } from "node:fs/promises";
import { err, ok, type Result } from "../../shared/result.ts";
import { elfSectionData } from "./elf.ts";

const BTF_MAGIC = 0xeb9f;
const KIND = { INT: 1, PTR: 2, ARRAY: 3, STRUCT: 4, UNION: 5, ENUM: 6, FWD: 7, TYPEDEF: 8, VOLATILE: 9,
  CONST: 10, RESTRICT: 11, FUNC: 12, FUNC_PROTO: 13, VAR: 14, DATASEC: 15, FLOAT: 16, DECL_TAG: 17,
  TYPE_TAG: 18, ENUM64: 19 } as const;

export interface BtfMember {
  name: string;
  /** byte offset inside the struct */
  offset: number;
  /** byte size of the member's type */
  size: number;
}

export interface BtfStruct {
  name: string;
  size: number;
  members: BtfMember[];
}

interface TypeRec {
  kind: number;
  nameOff: number;
  vlen: number;
  kindFlag: boolean;
  sizeOrType: number;
  /** byte offset of the entries that follow the btf_type */
  extra: number;
}

export class Btf {
  private readonly dv: DataView;
  private readonly types: TypeRec[];
  private readonly strOff: number;
  private readonly strEnd: number;
  private readonly bytes: Uint8Array;

  constructor(bytes: Uint8Array, types: TypeRec[], strOff: number, strLen: number) {
    this.bytes = bytes;
    this.dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    this.types = types;
    this.strOff = strOff;
    this.strEnd = strOff + strLen;
  }

  private str(off: number): string {
    let end = this.strOff + off;
    while (end < this.strEnd && this.bytes[end] !== 0) end++;
    return new TextDecoder().decode(this.bytes.subarray(this.strOff + off, end));
  }

  private find(kinds: number[], name: string): TypeRec | undefined {
    return this.types.find((t) => t !== undefined && kinds.includes(t.kind) && this.str(t.nameOff) === name);
  }

  /** Byte size of type id, following typedefs and qualifiers. */
  sizeOf(id: number): number {
    for (let depth = 0; depth < 32; depth++) {
      const t = this.types[id];
      if (!t) return 0;
      switch (t.kind) {
        case KIND.INT: case KIND.STRUCT: case KIND.UNION: case KIND.ENUM: case KIND.ENUM64: case KIND.FLOAT:
          return t.sizeOrType;
        case KIND.PTR:
          return 8;
        case KIND.ARRAY:
          return this.sizeOf(this.dv.getUint32(t.extra, true)) * this.dv.getUint32(t.extra + 8, true);
        case KIND.TYPEDEF: case KIND.VOLATILE: case KIND.CONST: case KIND.RESTRICT: case KIND.TYPE_TAG:
          id = t.sizeOrType;
          continue;
        default:
          return 0;
      }
    }
    return 0;
  }

  struct(name: string): BtfStruct | undefined {
    const t = this.find([KIND.STRUCT], name);
    if (!t) return undefined;
    const members: BtfMember[] = [];
    for (let i = 0; i < t.vlen; i++) {
      const at = t.extra + i * 12;
      const rawOffset = this.dv.getUint32(at + 8, true);
      const bits = t.kindFlag ? rawOffset & 0xffffff : rawOffset;
      members.push({ name: this.str(this.dv.getUint32(at, true)), offset: bits / 8, size: this.sizeOf(this.dv.getUint32(at + 4, true)) });
    }
    return { name, size: t.sizeOrType, members };
  }

  /** value → name of every enumerator of a named enum (32- or 64-bit). */
  enumValues(name: string): Map<number, string> | undefined {
    const t = this.find([KIND.ENUM, KIND.ENUM64], name);
    if (!t) return undefined;
    const out = new Map<number, string>();
    const stride = t.kind === KIND.ENUM ? 8 : 12;
    for (let i = 0; i < t.vlen; i++) {
      const at = t.extra + i * stride;
      out.set(this.dv.getUint32(at + 4, true), this.str(this.dv.getUint32(at, true)));
    }
    return out;
  }
}

function extraBytes(kind: number, vlen: number): number {
  switch (kind) {
    case KIND.INT: case KIND.VAR: case KIND.DECL_TAG: return 4;
    case KIND.ARRAY: return 12;
    case KIND.STRUCT: case KIND.UNION: case KIND.DATASEC: case KIND.ENUM64: return 12 * vlen;
    case KIND.ENUM: case KIND.FUNC_PROTO: return 8 * vlen;
    default: return 0;
  }
}

export function parseBtf(bytes: Uint8Array): Result<Btf> {
  if (bytes.length < 24) return err("BTF data too short");
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (dv.getUint16(0, true) !== BTF_MAGIC) return err("BTF data has a bad magic number (not little-endian BTF?)");
  const hdrLen = dv.getUint32(4, true);
  const typeOff = hdrLen + dv.getUint32(8, true);
  const typeEnd = typeOff + dv.getUint32(12, true);
  const strOff = hdrLen + dv.getUint32(16, true);
  const strLen = dv.getUint32(20, true);
  if (typeEnd > bytes.length || strOff + strLen > bytes.length) return err("BTF sections past the end of the data");
  const types: TypeRec[] = [];
  types.length = 1; // type id 0 is void
  for (let at = typeOff; at + 12 <= typeEnd;) {
    const info = dv.getUint32(at + 4, true);
    const kind = (info >>> 24) & 0x1f;
    const vlen = info & 0xffff;
    if (kind < KIND.INT || kind > KIND.ENUM64) return err(`BTF type ${types.length} has unknown kind ${kind}`);
    types.push({ kind, nameOff: dv.getUint32(at, true), vlen, kindFlag: (info >>> 31) === 1,
      sizeOrType: dv.getUint32(at + 8, true), extra: at + 12 });
    at += 12 + extraBytes(kind, vlen);
  }
  return ok(new Btf(bytes, types, strOff, strLen));
}

/** The BTF of a compiled BPF object (its .BTF section). */
export async function readObjectBtf(objPath: string): Promise<Result<Btf>> {
  let file: Uint8Array;
  try {
    file = new Uint8Array(await readFile(objPath));
  } catch (e) {
    return err(`cannot read ${objPath}: ${e instanceof Error ? e.message : String(e)}`);
  }
  const section = elfSectionData(file, ".BTF");
  if (!section.ok) return err(`${objPath}: ${section.error}`);
  return parseBtf(section.value);
}

export const KERNEL_BTF = "/sys/kernel/btf/vmlinux";
const DROP_PREFIX = "SKB_DROP_REASON_";

async function readKernelBtf(btfPath: string): Promise<Result<Btf>> {
  let bytes: Uint8Array;
  try {
    bytes = new Uint8Array(await readFile(btfPath));
  } catch (e) {
    return err(`cannot read kernel BTF ${btfPath}: ${e instanceof Error ? e.message : String(e)}`);
  }
  const btf = parseBtf(bytes);
  return btf.ok ? btf : err(`${btfPath}: ${btf.error}`);
}

export interface KernelFacts {
  dropReasons: Result<Map<number, string>>;
  /** BPF netfilter programs and links (Linux 6.4+, CONFIG_NETFILTER_BPF_LINK): struct bpf_nf_ctx exists */
  netfilterLinks: boolean;
}

/** What the running kernel's BTF tells the capture, read once. */
export async function readKernelFacts(btfPath = KERNEL_BTF): Promise<KernelFacts> {
  const btf = await readKernelBtf(btfPath);
  if (!btf.ok) return { dropReasons: btf, netfilterLinks: false };
  return { dropReasons: dropReasonsOf(btf.value, btfPath), netfilterLinks: btf.value.struct("bpf_nf_ctx") !== undefined };
}

/** enum skb_drop_reason of the running kernel, names without the SKB_DROP_REASON_ prefix. */
export async function readDropReasons(btfPath = KERNEL_BTF): Promise<Result<Map<number, string>>> {
  const btf = await readKernelBtf(btfPath);
  return btf.ok ? dropReasonsOf(btf.value, btfPath) : btf;
}

function dropReasonsOf(btf: Btf, btfPath: string): Result<Map<number, string>> {
  const values = btf.enumValues("skb_drop_reason");
  if (!values) return err(`${btfPath} has no enum skb_drop_reason`);
  const out = new Map<number, string>();
  for (const [v, name] of values) out.set(v, name.startsWith(DROP_PREFIX) ? name.slice(DROP_PREFIX.length) : name);
  return ok(out);
}
