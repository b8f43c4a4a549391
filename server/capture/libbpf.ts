// The only module that touches the FFI: libbpf.so.1 and the few libc calls the ring reader needs.
// Every step is checked and returns errors as values; libbpf's own messages are kept for the error text.
import { existsSync, readFileSync } from "node:fs";
import koffi from "koffi";
import { err, ok, type Result } from "../../shared/result.ts";
import { elfSymbols } from "./elf.ts";

/* eslint-disable @typescript-eslint/no-explicit-any -- koffi's function handles are untyped */
type Fn = (...args: any[]) => any;
type Ptr = unknown;

interface Lib {
  open: Fn; findMap: Fn; initialValue: Fn; load: Fn; nextProgram: Fn; progName: Fn; sectionName: Fn;
  setAutoload: Fn; attach: Fn; linkDestroy: Fn; mapFd: Fn; maxEntries: Fn; close: Fn; findBtfId: Fn;
  lookupElem: Fn; possibleCpus: Fn; mmap: Fn; munmap: Fn; sysconf: Fn; setPrint: Fn; setMaxEntries: Fn;
  setType: Fn; setExpectedAttachType: Fn; progFd: Fn; updateElem: Fn; testRun: Fn;
  syscall: Fn; openPath: Fn; closeFd: Fn; setns: Fn; sigmask: Fn; mallopt: Fn;
  /** our libbpf print callback, registered in this thread */
  printCallback: unknown;
}

let lib: Result<Lib> | undefined;
const logLines: string[] = [];

const BPF_TRACE_RAW_TP = 23;
const BPF_TRACE_FENTRY = 24;
/* BPF netfilter programs and links (Linux 6.4), which libbpf 1.1 does not know by name. */
const BPF_PROG_TYPE_NETFILTER = 32;
const BPF_NETFILTER = 45;
const BPF_LINK_CREATE = 28;
const SYS_BPF = 321; // x86-64
const CLONE_NEWNET = 0x40000000;
const O_RDONLY = 0;
const O_CLOEXEC = 0o2000000;
const PROT_READ = 1;
const PROT_WRITE = 2;
const MAP_SHARED = 1;
const SC_PAGESIZE = 30;
const MAP_FAILED = 0xffffffffffffffffn;

function bind(): Result<Lib> {
  let bpf: ReturnType<typeof koffi.load>;
  let libc: ReturnType<typeof koffi.load>;
  try {
    bpf = koffi.load("libbpf.so.1");
    libc = koffi.load("libc.so.6");
  } catch (e) {
    return err(`cannot load libbpf.so.1 (apt-get install libbpf1): ${e instanceof Error ? e.message : String(e)}`);
  }
  const printFn = koffi.proto("int pktpath_libbpf_print_fn(int level, const char *fmt, void *args)");
  const vsnprintf = libc.func("int vsnprintf(_Out_ uint8_t *buf, size_t size, const char *fmt, void *args)");
  const setPrint = bpf.func("void *libbpf_set_print(pktpath_libbpf_print_fn *fn)");
  // libbpf formats with printf; va_list reaches us as a pointer (x86-64 and arm64 glibc pass it so).
  const printCallback = koffi.register((level: number, fmt: string, args: unknown) => {
    if (level > 1) return 0; // debug messages are too chatty for error text
    const buf = Buffer.alloc(Number(process.env.PKTPATH_LIBBPF_LOG_BYTES) || 1024);
    vsnprintf(buf, buf.length, fmt, args);
    const end = buf.indexOf(0);
    logLines.push(buf.subarray(0, end < 0 ? buf.length : end).toString("utf8").trimEnd());
    if (logLines.length > 200) logLines.shift();
    return 0;
  }, koffi.pointer(printFn));
  return ok({
    setPrint,
    printCallback,
    open: bpf.func("void *bpf_object__open_file(const char *path, void *opts)"),
    findMap: bpf.func("void *bpf_object__find_map_by_name(void *obj, const char *name)"),
    initialValue: bpf.func("void *bpf_map__initial_value(void *map, _Out_ size_t *psize)"),
    load: bpf.func("int bpf_object__load(void *obj)"),
    nextProgram: bpf.func("void *bpf_object__next_program(void *obj, void *prev)"),
    progName: bpf.func("const char *bpf_program__name(void *prog)"),
    sectionName: bpf.func("const char *bpf_program__section_name(void *prog)"),
    setAutoload: bpf.func("int bpf_program__set_autoload(void *prog, bool autoload)"),
    attach: bpf.func("void *bpf_program__attach(void *prog)"),
    linkDestroy: bpf.func("int bpf_link__destroy(void *link)"),
    mapFd: bpf.func("int bpf_map__fd(void *map)"),
    maxEntries: bpf.func("uint32_t bpf_map__max_entries(void *map)"),
    setMaxEntries: bpf.func("int bpf_map__set_max_entries(void *map, uint32_t max_entries)"),
    close: bpf.func("void bpf_object__close(void *obj)"),
    findBtfId: bpf.func("int libbpf_find_vmlinux_btf_id(const char *name, int attach_type)"),
    lookupElem: bpf.func("int bpf_map_lookup_elem(int fd, const void *key, _Out_ uint8_t *value)"),
    possibleCpus: bpf.func("int libbpf_num_possible_cpus()"),
    mmap: libc.func("void *mmap(void *addr, size_t len, int prot, int flags, int fd, int64_t off)"),
    munmap: libc.func("int munmap(void *addr, size_t len)"),
    sysconf: libc.func("long sysconf(int name)"),
    setType: bpf.func("int bpf_program__set_type(void *prog, int type)"),
    setExpectedAttachType: bpf.func("int bpf_program__set_expected_attach_type(void *prog, int type)"),
    progFd: bpf.func("int bpf_program__fd(void *prog)"),
    updateElem: bpf.func("int bpf_map_update_elem(int fd, const void *key, const void *value, uint64_t flags)"),
    testRun: bpf.func("int bpf_prog_test_run_opts(int fd, void *opts)"),
    syscall: libc.func("long syscall(long number, long a, void *b, long c)"),
    openPath: libc.func("int open(const char *path, int flags)"),
    closeFd: libc.func("int close(int fd)"),
    setns: libc.func("int setns(int fd, int nstype)"),
    sigmask: libc.func("int pthread_sigmask(int how, const uint8_t *set, _Out_ uint8_t *oldset)"),
    mallopt: libc.func("int mallopt(int param, int value)"),
  });
}

function getLib(): Result<Lib> {
  lib ??= bind();
  return lib;
}

/**
 * libbpf's print function is one global for the whole process, while koffi callbacks belong to the
 * thread that registered them: it is set only around our own libbpf calls and cleared after, so no
 * other thread (or a worker that has exited) is ever called back.
 */
function withLog<T>(l: Lib, fn: () => T): T {
  l.setPrint(l.printCallback);
  try {
    return fn();
  } finally {
    l.setPrint(null);
  }
}

function libbpfLog(): string {
  const lines = logLines.splice(0).filter((l) => l.length > 0);
  return lines.length ? `\n${lines.slice(-(Number(process.env.PKTPATH_LIBBPF_LOG_LINES) || 12)).join("\n")}` : "";
}

/** glibc's mallopt parameter: allocations from this size up are mapped on their own (M_MMAP_THRESHOLD) */
const M_MMAP_THRESHOLD = -3;
/** 128 KiB, glibc's own starting value */
export const MMAP_THRESHOLD_BYTES = 128 * 1024;

/**
 * Makes every allocation of MMAP_THRESHOLD_BYTES or more a mapping of its own, returned to the
 * system when freed. glibc otherwise raises that threshold to the largest block freed so far, after
 * which the capture's batches (up to 1 MiB, one after another under a flood) come from the threads'
 * heaps and stay there once freed: `serve`'s idle RSS 180 -> 167-169 MiB, its peak under 15 s of
 * `ping -f` 316-322 -> 302-303 MiB. For the whole process, as glibc's settings are; whether it took.
 */
export function fixMmapThreshold(): boolean {
  const l = getLib();
  return l.ok && l.value.mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD_BYTES) === 1;
}

/** What live eBPF capture needs, checked up front so the message says what to do. */
export function checkPrerequisites(objPath: string): Result<void> {
  if (process.getuid?.() !== 0) return err("eBPF capture needs root (run with sudo)");
  if (!existsSync("/sys/kernel/btf/vmlinux")) return err("the kernel has no BTF (/sys/kernel/btf/vmlinux is missing)");
  if (!existsSync(objPath)) return err(`${objPath} is not built (run: make -C bpf)`);
  const l = getLib();
  return l.ok ? ok(undefined) : l;
}

export interface LoadOptions {
  objPath: string;
  /** .rodata variables to set before load, by name */
  rodata?: Record<string, Uint8Array>;
  /** tracepoints whose absence from this kernel is a warning rather than an error */
  optionalTracepoints?: string[];
  /** maps to size before load: name → max_entries */
  mapEntries?: Record<string, number>;
  /** Load the SEC("netfilter") programs (Linux 6.4+); they are attached per namespace by attachNetfilter. */
  netfilter?: boolean;
  /** Load only, attach nothing (programs run by testRun). */
  noAttach?: boolean;
}

/** Where a netfilter program goes: NFPROTO_IPV4 (2) or NFPROTO_IPV6 (10), an NF_INET_* hook, a priority. */
export interface NetfilterPlace {
  pf: number;
  hook: number;
  priority: number;
  /**
   * Priorities up to (not including) this one will do too. Two BPF programs cannot share a priority
   * at a hook (EBUSY): another pktpath, or another tool's program, may hold it; the next free one
   * below this bound is taken then.
   */
  below?: number;
}

const EBUSY = 16;
/** Priorities tried past a busy one, at most. */
const BUSY_TRIES = 64;

export interface BpfSession {
  warnings: string[];
  /** attached programs, by name */
  attached: string[];
  mapFd(name: string): Result<{ fd: number; maxEntries: number }>;
  /** Sum over CPUs of the u64 at `key` (default 0) of a per-CPU array. */
  percpuSum(name: string, key?: number): Result<bigint>;
  /** Writes one value of an array map. */
  updateMap(name: string, key: number, value: Uint8Array): Result<void>;
  /** Reads one value of an array map. */
  lookupMap(name: string, key: number, size: number): Result<Uint8Array>;
  /**
   * Attaches a netfilter program at a hook of the network namespace at netnsPath (this thread's own
   * when absent) with a BPF link; returns the link's fd. The link keeps its namespace alive until
   * closed (closeLink): close it once the namespace is gone from view.
   */
  attachNetfilter(progName: string, place: NetfilterPlace, netnsPath?: string): Result<number>;
  closeLink(fd: number): void;
  /** Runs a loaded program once on a packet (BPF_PROG_TEST_RUN); returns its return value. */
  testRun(progName: string, packet: Uint8Array): Result<number>;
  /** Runs a loaded program `repeat` times on a packet; returns the kernel's mean time per run, in ns. */
  timeRun(progName: string, packet: Uint8Array, repeat: number): Result<number>;
  /** Detaches and closes everything; safe to call twice. */
  close(): void;
}

function rodataOffsets(objPath: string): Result<Map<string, number>> {
  const syms = elfSymbols(new Uint8Array(readFileSync(objPath)));
  if (!syms.ok) return err(`${objPath}: ${syms.error}`);
  return ok(new Map(syms.value.filter((s) => s.section === ".rodata").map((s) => [s.name, s.value])));
}

function writeRodata(l: Lib, obj: Ptr, objPath: string, values: Record<string, Uint8Array>): Result<void> {
  const names = Object.keys(values);
  if (names.length === 0) return ok(undefined);
  const offsets = rodataOffsets(objPath);
  if (!offsets.ok) return offsets;
  const map = l.findMap(obj, ".rodata");
  const size = [0];
  const ptr = map ? l.initialValue(map, size) : null;
  if (!ptr) return err(`${objPath} has no .rodata to hold settings`);
  const area = new Uint8Array(koffi.view(ptr, Number(size[0])));
  for (const name of names) {
    const at = offsets.value.get(name);
    const bytes = values[name];
    if (at === undefined || !bytes || at + bytes.length > area.length) return err(`${objPath}: no .rodata variable ${name}`);
    area.set(bytes, at);
  }
  return ok(undefined);
}

function programs(l: Lib, obj: Ptr): Ptr[] {
  const out: Ptr[] = [];
  for (let p = l.nextProgram(obj, null); p; p = l.nextProgram(obj, p)) out.push(p);
  return out;
}

/**
 * Programs on tracepoints this kernel lacks are not loaded, when they are optional. Netfilter
 * programs are typed by hand (libbpf 1.1 does not know the section) and never attached here.
 */
function skipMissing(l: Lib, obj: Ptr, opts: LoadOptions): Result<{ warnings: string[]; skipped: Set<string> }> {
  const warnings: string[] = [];
  const skipped = new Set<string>();
  const optional = opts.optionalTracepoints ?? [];
  for (const p of programs(l, obj)) {
    const section: string = l.sectionName(p) ?? "";
    if (section === "netfilter") {
      skipped.add(l.progName(p));
      if (!opts.netfilter) l.setAutoload(p, false);
      else if (l.setType(p, BPF_PROG_TYPE_NETFILTER) !== 0 || l.setExpectedAttachType(p, BPF_NETFILTER) !== 0) {
        return err(`cannot prepare netfilter program ${l.progName(p)}${libbpfLog()}`);
      }
      continue;
    }
    if (opts.noAttach) skipped.add(l.progName(p));
    const tp = section.startsWith("tp_btf/") ? section.slice("tp_btf/".length) : "";
    if (!tp || l.findBtfId(tp, BPF_TRACE_RAW_TP) > 0) continue;
    if (!optional.includes(tp)) return err(`this kernel has no tracepoint ${tp}`);
    l.setAutoload(p, false);
    skipped.add(l.progName(p));
    warnings.push(`tracepoint ${tp} is not in this kernel; its hops will be missing`);
  }
  return ok({ warnings, skipped });
}

export function openAndAttach(opts: LoadOptions): Result<BpfSession> {
  const pre = checkPrerequisites(opts.objPath);
  if (!pre.ok) return pre;
  const l = getLib();
  if (!l.ok) return l;
  return withLog(l.value, () => openAndAttachLogged(l.value, opts));
}

/** sigset_t of glibc on Linux: 1024 bits. */
const SIGSET_BYTES = 128;
const SIG_BLOCK = 0, SIG_SETMASK = 2;

/**
 * Runs fn with every signal held back from this thread. The kernel's verifier gives up with EAGAIN
 * when a signal is pending, and libbpf's few retries do not outlast one that comes every
 * millisecond: a CPU profiler's (node --cpu-prof), which made every load fail. Held back, a signal
 * is delivered once fn returns.
 */
function withoutSignals<T>(lib: Lib, fn: () => T): T {
  const old = Buffer.alloc(SIGSET_BYTES);
  const blocked = lib.sigmask(SIG_BLOCK, Buffer.alloc(SIGSET_BYTES, 0xff), old) === 0;
  try {
    return fn();
  } finally {
    if (blocked) lib.sigmask(SIG_SETMASK, old, Buffer.alloc(SIGSET_BYTES));
  }
}

function openAndAttachLogged(lib: Lib, opts: LoadOptions): Result<BpfSession> {
  logLines.length = 0;
  const obj = lib.open(opts.objPath, null);
  if (!obj) return err(`cannot open ${opts.objPath} (errno ${koffi.errno()})${libbpfLog()}`);
  const links: Ptr[] = [];
  let closed = false;
  const close = (): void => {
    if (closed) return;
    closed = true;
    withLog(lib, () => {
      for (const link of links.splice(0)) lib.linkDestroy(link);
      lib.close(obj);
    });
  };
  const fail = (message: string): Result<BpfSession> => {
    close();
    return err(message);
  };
  const written = writeRodata(lib, obj, opts.objPath, opts.rodata ?? {});
  if (!written.ok) return fail(written.error);
  for (const [name, entries] of Object.entries(opts.mapEntries ?? {})) {
    const map = lib.findMap(obj, name);
    if (!map || lib.setMaxEntries(map, entries) !== 0) return fail(`${opts.objPath}: cannot size map ${name} to ${entries}${libbpfLog()}`);
  }
  const skipped = skipMissing(lib, obj, opts);
  if (!skipped.ok) return fail(skipped.error);
  const rc = withoutSignals(lib, () => lib.load(obj));
  if (rc !== 0) return fail(`cannot load ${opts.objPath} into the kernel (error ${rc})${libbpfLog()}`);
  const attached: string[] = [];
  const { warnings } = skipped.value;
  for (const p of programs(lib, obj)) {
    const name: string = lib.progName(p);
    if (skipped.value.skipped.has(name)) continue;
    const link = lib.attach(p);
    if (!link) return fail(`cannot attach ${name} (errno ${koffi.errno()})${libbpfLog()}`);
    links.push(link);
    attached.push(name);
  }
  const findMap = (name: string): Ptr => lib.findMap(obj, name);
  const prog = (name: string): Ptr | undefined => programs(lib, obj).find((p) => lib.progName(p) === name);
  const key = (k: number): Buffer => Buffer.from(Uint32Array.of(k).buffer);
  return ok({
    warnings,
    attached,
    close,
    mapFd(name) {
      const map = findMap(name);
      if (!map) return err(`no map ${name}`);
      return ok({ fd: lib.mapFd(map), maxEntries: lib.maxEntries(map) });
    },
    percpuSum(name, k = 0) {
      const map = findMap(name);
      if (!map) return err(`no map ${name}`);
      const cpus: number = lib.possibleCpus();
      const value = Buffer.alloc(8 * Math.max(cpus, 1));
      if (lib.lookupElem(lib.mapFd(map), key(k), value) !== 0) return err(`cannot read map ${name}`);
      let sum = 0n;
      for (let i = 0; i < cpus; i++) sum += value.readBigUInt64LE(i * 8);
      return ok(sum);
    },
    updateMap(name, k, value) {
      const map = findMap(name);
      if (!map) return err(`no map ${name}`);
      if (lib.updateElem(lib.mapFd(map), key(k), value, 0) !== 0) return err(`cannot write map ${name} (errno ${koffi.errno()})`);
      return ok(undefined);
    },
    lookupMap(name, k, size) {
      const map = findMap(name);
      if (!map) return err(`no map ${name}`);
      const value = Buffer.alloc(size);
      if (lib.lookupElem(lib.mapFd(map), key(k), value) !== 0) return err(`cannot read map ${name}`);
      return ok(new Uint8Array(value));
    },
    attachNetfilter(progName, place, netnsPath) {
      const p = prog(progName);
      if (!p) return err(`no program ${progName}`);
      return inNetns(lib, netnsPath, () => linkNetfilter(lib, lib.progFd(p), place));
    },
    closeLink(fd) {
      lib.closeFd(fd);
    },
    testRun(progName, packet) {
      const p = prog(progName);
      if (!p) return err(`no program ${progName}`);
      const r = testRunOnce(lib, lib.progFd(p), packet);
      return r.ok ? ok(r.value.retval) : r;
    },
    timeRun(progName, packet, repeat) {
      const p = prog(progName);
      if (!p) return err(`no program ${progName}`);
      const r = testRunOnce(lib, lib.progFd(p), packet, repeat);
      return r.ok ? ok(r.value.durationNs) : r;
    },
  });
}

/** BPF_LINK_CREATE for a netfilter program (union bpf_attr's link_create, netfilter member). */
function linkNetfilter(lib: Lib, progFd: number, place: NetfilterPlace): Result<number> {
  const below = Math.min(place.below ?? place.priority + 1, place.priority + BUSY_TRIES);
  let errno = 0;
  for (let priority = place.priority; priority < below || priority === place.priority; priority++) {
    const attr = Buffer.alloc(128);
    attr.writeUInt32LE(progFd, 0);
    attr.writeUInt32LE(BPF_NETFILTER, 8);
    attr.writeUInt32LE(place.pf, 16);
    attr.writeUInt32LE(place.hook, 20);
    attr.writeInt32LE(priority, 24);
    const fd = Number(lib.syscall(SYS_BPF, BPF_LINK_CREATE, attr, attr.length));
    if (fd >= 0) return ok(fd);
    errno = koffi.errno();
    if (errno !== EBUSY) break;
  }
  const busy = errno === EBUSY ? `: every priority from ${place.priority} to ${below - 1} is held by another BPF program` : "";
  return err(`cannot attach a netfilter program at hook ${place.hook} of family ${place.pf} priority ${place.priority} (errno ${errno})${busy}`);
}

/** Runs fn with this thread in the network namespace at path (setns is per thread), then returns. */
function inNetns<T>(lib: Lib, path: string | undefined, fn: () => Result<T>): Result<T> {
  if (path === undefined) return fn();
  const self = lib.openPath("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
  if (self < 0) return err(`cannot open this thread's network namespace (errno ${koffi.errno()})`);
  const target = lib.openPath(path, O_RDONLY | O_CLOEXEC);
  try {
    if (target < 0) return err(`cannot open network namespace ${path} (errno ${koffi.errno()})`);
    if (lib.setns(target, CLONE_NEWNET) !== 0) return err(`cannot enter network namespace ${path} (errno ${koffi.errno()})`);
    try {
      return fn();
    } finally {
      if (lib.setns(self, CLONE_NEWNET) !== 0) throw new Error(`cannot return to this thread's network namespace (errno ${koffi.errno()})`);
    }
  } finally {
    if (target >= 0) lib.closeFd(target);
    lib.closeFd(self);
  }
}

const BPF_PROG_TEST_RUN = 10;

/** BPF_PROG_TEST_RUN once: union bpf_attr's test member, the packet in memory koffi holds still. */
function testRunOnce(lib: Lib, progFd: number, packet: Uint8Array, repeat = 1): Result<{ retval: number; durationNs: number }> {
  const data = koffi.alloc("uint8_t", Math.max(packet.length, 1));
  try {
    new Uint8Array(koffi.view(data, packet.length)).set(packet);
    const attr = Buffer.alloc(80);
    attr.writeUInt32LE(progFd, 0);
    attr.writeUInt32LE(packet.length, 8);
    attr.writeBigUInt64LE(BigInt(koffi.address(data)), 16);
    attr.writeUInt32LE(repeat, 32);
    if (Number(lib.syscall(SYS_BPF, BPF_PROG_TEST_RUN, attr, attr.length)) !== 0) return err(`test run failed (errno ${koffi.errno()})`);
    // union bpf_attr's test member: retval at 4, duration (mean ns per run) at 36
    return ok({ retval: attr.readUInt32LE(4), durationNs: attr.readUInt32LE(36) });
  } finally {
    koffi.free(data);
  }
}

/** Whether the running kernel's BTF has a function (kfuncs included) of this name. */
export function kernelHasFunction(name: string): boolean {
  const l = getLib();
  if (!l.ok) return false;
  // for fentry, libbpf looks the name up as a BTF FUNC of vmlinux
  return withLog(l.value, () => l.value.findBtfId(name, BPF_TRACE_FENTRY) > 0);
}

/** The number of possible CPUs (what per-CPU maps are sized by), or an error. */
export function possibleCpus(): Result<number> {
  const l = getLib();
  if (!l.ok) return l;
  const n: number = l.value.possibleCpus();
  return n > 0 ? ok(n) : err(`cannot count the possible CPUs (error ${n})`);
}

export interface MapMemory {
  /** the map's values, shared with the kernel */
  buffer: ArrayBuffer;
  unmap(): void;
}

/** Maps the values of a BPF_F_MMAPABLE array (bytes long) into this process, readable and writable. */
export function mmapArray(fd: number, bytes: number): Result<MapMemory> {
  const l = getLib();
  if (!l.ok) return l;
  const pageSize = Number(l.value.sysconf(SC_PAGESIZE));
  const len = Math.ceil(bytes / pageSize) * pageSize;
  const ptr = l.value.mmap(null, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  if (!ptr || koffi.address(ptr) === MAP_FAILED) return err(`cannot mmap a BPF array of ${len} bytes (errno ${koffi.errno()})`);
  let mapped = true;
  return ok({
    buffer: koffi.view(ptr, len),
    unmap() {
      if (!mapped) return;
      mapped = false;
      l.value.munmap(ptr, len);
    },
  });
}
