// Just enough ELF64 little-endian reading for a BPF object: named sections and the symbol table.
// The BTF in a .o has its .rodata variable offsets still zero (libbpf fills them in from the
// symbol table at open), so the loader takes them from the symbols, as libbpf does.
import { err, ok, type Result } from "../../shared/result.ts";

export interface ElfSection {
  name: string;
  type: number;
  offset: number;
  size: number;
}

export interface ElfSymbol {
  name: string;
  section: string;
  value: number;
  size: number;
}

const SHT_SYMTAB = 2;

function cString(buf: Uint8Array, at: number): string {
  let end = at;
  while (end < buf.length && buf[end] !== 0) end++;
  return new TextDecoder().decode(buf.subarray(at, end));
}

export function elfSections(buf: Uint8Array): Result<ElfSection[]> {
  if (buf.length < 64 || buf[0] !== 0x7f || buf[1] !== 0x45 || buf[2] !== 0x4c || buf[3] !== 0x46) {
    return err("not an ELF file");
  }
  if (buf[4] !== 2 || buf[5] !== 1) return err("not a 64-bit little-endian ELF file");
  const dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const shoff = Number(dv.getBigUint64(0x28, true));
  const shentsize = dv.getUint16(0x3a, true);
  const shnum = dv.getUint16(0x3c, true);
  const shstrndx = dv.getUint16(0x3e, true);
  if (shoff + shnum * shentsize > buf.length) return err("ELF section headers past the end of the file");
  const raw = [];
  for (let i = 0; i < shnum; i++) {
    const at = shoff + i * shentsize;
    raw.push({
      nameOff: dv.getUint32(at, true),
      type: dv.getUint32(at + 4, true),
      offset: Number(dv.getBigUint64(at + 0x18, true)),
      size: Number(dv.getBigUint64(at + 0x20, true)),
    });
  }
  const names = raw[shstrndx];
  if (!names) return err("ELF file has no section name table");
  return ok(raw.map((s) => ({ name: cString(buf, names.offset + s.nameOff), type: s.type, offset: s.offset, size: s.size })));
}

export function elfSectionData(buf: Uint8Array, name: string): Result<Uint8Array> {
  const sections = elfSections(buf);
  if (!sections.ok) return sections;
  const s = sections.value.find((x) => x.name === name);
  if (!s) return err(`ELF file has no ${name} section`);
  if (s.offset + s.size > buf.length) return err(`ELF section ${name} past the end of the file`);
  return ok(buf.subarray(s.offset, s.offset + s.size));
}

export function elfSymbols(buf: Uint8Array): Result<ElfSymbol[]> {
  const sections = elfSections(buf);
  if (!sections.ok) return sections;
  const all = sections.value;
  const symtab = all.find((s) => s.type === SHT_SYMTAB);
  const strtab = all.find((s) => s.name === ".strtab");
  if (!symtab || !strtab) return err("ELF file has no symbol table");
  const dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const out: ElfSymbol[] = [];
  for (let at = symtab.offset; at + 24 <= symtab.offset + symtab.size; at += 24) {
    const shndx = dv.getUint16(at + 6, true);
    const section = all[shndx];
    if (!section || shndx === 0) continue;
    out.push({
      name: cString(buf, strtab.offset + dv.getUint32(at, true)),
      section: section.name,
      value: Number(dv.getBigUint64(at + 8, true)),
      size: Number(dv.getBigUint64(at + 16, true)),
    });
  }
  return ok(out);
}
