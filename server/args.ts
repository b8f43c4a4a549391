// Command-line parsing: a table of flags per command, values parsed at the boundary, errors as values.
// Every error is one line that names the flag and the value at fault (or the FILTER and its column).
import { buildFilter, parseAddress, type ShorthandProto, type Shorthands } from "../shared/filter/index.ts";
import { err, ok, type Result } from "../shared/result.ts";
import { shown } from "../shared/shown.ts";
import type { CaptureFilter } from "./capture/source.ts";

export const USAGE = `usage: pktpath <command> [flags]

commands:
  serve   [--host H] [--port P] [--source auto|ebpf|tracefs|demo|FILE] [--token T] [--pace] [FILTER]
          the dashboard (default http://127.0.0.1:8080, source auto); a FILE is read at once,
          or with --pace replayed at its recorded pace
  trace   [--json] [--count N] [--duration S] [--source auto|ebpf|tracefs] [shorthands] [FILTER]
          live capture on the terminal, one block per completed ping (--json: one Ping per line)
  record  --out FILE [--duration S] [--source auto|ebpf|tracefs] [shorthands] [FILTER]
          write a capture file that \`serve FILE\` and \`import FILE\` read back
  import  FILE [--format auto|perf-trace|perf-script|tracefs|pktpath] [--json]
          correlate a capture made elsewhere (--json: { "journeys": [...], "pings": [...] })

FILTER: what live capture takes, in pcap-filter syntax (man pcap-filter), applied in the kernel;
one argument or several, joined with spaces. Without one: ICMP/ICMPv6 echoes and the ICMP errors
about them (icmp-echo). For example: tcp port 443 and host 10.0.0.2 · icmp or udp port 53
  ip  ip6  tcp  udp  icmp  icmp6  icmp-echo   [ip|ip6] proto N
  [src|dst] host ADDR   [src|dst] net ADDR/LEN   [tcp|udp] [src|dst] port N   portrange LOW-HIGH
  less N  greater N     and &&  or ||  not !  ( )   (and, or: equal precedence, left to right)
  a bare value repeats the qualifiers before it: host 10.0.0.1 or 10.0.0.2 · tcp port 80 or 443

shorthands (trace, record), ANDed with FILTER:
  --proto icmp-echo|any|icmp|tcp|udp   (default icmp-echo when there is no FILTER)
  --host ADDR                          only packets from or to this IPv4/IPv6 address
  --port N                             only TCP/UDP packets from or to this port

  --help, -h   this text`;

export type LiveSource = "auto" | "ebpf" | "tracefs";
export type SourceSpec = "auto" | "ebpf" | "tracefs" | "demo" | { file: string };
export type ImportFormat = "auto" | "perf-trace" | "perf-script" | "tracefs" | "pktpath";

export type Command =
  | { cmd: "help" }
  | { cmd: "serve"; host: string; port: number; source: SourceSpec; token?: string; pace: boolean; filter: CaptureFilter }
  | { cmd: "trace"; json: boolean; count?: number; durationS?: number; filter: CaptureFilter; source: LiveSource }
  | { cmd: "record"; out: string; durationS?: number; filter: CaptureFilter; source: LiveSource }
  | { cmd: "import"; file: string; format: ImportFormat; json: boolean };

type Value = string | number | boolean;
/** Parses one flag's text; the message is completed with the flag's name by the caller. */
type Parser = (text: string) => Result<Value>;

interface FlagSpec {
  /** A switch takes no value. */
  switch?: true;
  parse?: Parser;
}

function oneOf(...choices: string[]): Parser {
  return (text) => (choices.includes(text) ? ok(text) : err(`expected one of ${choices.join(", ")}`));
}

function integer(min: number, max: number): Parser {
  return (text) => {
    const n = Number(text);
    if (!/^\d+$/.test(text) || !Number.isSafeInteger(n) || n < min || n > max) {
      return err(`expected an integer from ${min} to ${max}`);
    }
    return ok(n);
  };
}

function seconds(text: string): Result<Value> {
  const s = Number(text);
  // At most a year: a timer longer than 2^31 ms would fire at once.
  if (!/^\d+(\.\d+)?$/.test(text) || !(s > 0) || s > 365 * 24 * 3600) return err("expected a number of seconds > 0");
  return ok(s);
}

function nonEmpty(text: string): Result<Value> {
  return text === "" ? err("expected a non-empty value") : ok(text);
}

function address(text: string): Result<Value> {
  return parseAddress(text) === undefined ? err("expected an IPv4 or IPv6 address") : ok(text);
}

const LIVE_FLAGS: Record<string, FlagSpec> = {
  source: { parse: oneOf("auto", "ebpf", "tracefs") },
  proto: { parse: oneOf("icmp-echo", "any", "icmp", "tcp", "udp") },
  host: { parse: address },
  port: { parse: integer(1, 65535) },
};

interface CommandSpec {
  flags: Record<string, FlagSpec>;
  positional: string[];
  /** takes a FILTER: every word after the positionals, joined by spaces (as tcpdump) */
  filter?: true;
}

const COMMANDS: Record<string, CommandSpec> = {
  serve: {
    flags: { host: { parse: nonEmpty }, port: { parse: integer(0, 65535) }, source: { parse: nonEmpty },
      token: { parse: nonEmpty }, pace: { switch: true } },
    positional: [],
    filter: true,
  },
  trace: {
    flags: { json: { switch: true }, count: { parse: integer(1, 1e9) }, duration: { parse: seconds }, ...LIVE_FLAGS },
    positional: [],
    filter: true,
  },
  record: { flags: { out: { parse: nonEmpty }, duration: { parse: seconds }, ...LIVE_FLAGS }, positional: [], filter: true },
  import: {
    flags: { format: { parse: oneOf("auto", "perf-trace", "perf-script", "tracefs", "pktpath") }, json: { switch: true } },
    positional: ["FILE"],
  },
};

interface Parsed {
  flags: Map<string, Value>;
  positional: string[];
  /** the FILTER words joined by spaces; "" when none */
  filter: string;
}

/** Splits argv (after the command) into flags and positionals, checking each against the table. */
function scan(cmd: string, argv: string[]): Result<Parsed> {
  const spec = Object.hasOwn(COMMANDS, cmd) ? COMMANDS[cmd] : undefined;
  if (spec === undefined) return err(`unknown command ${JSON.stringify(cmd)} (expected serve, trace, record or import)`);
  const flags = new Map<string, Value>();
  const positional: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] ?? "";
    if (arg === "--") {
      positional.push(...argv.slice(i + 1));
      break;
    }
    if (!arg.startsWith("--")) {
      if (arg.startsWith("-") && arg !== "-") return err(`${cmd}: unknown flag ${shown(arg)}`);
      positional.push(arg);
      continue;
    }
    const eq = arg.indexOf("=");
    const name = arg.slice(2, eq === -1 ? undefined : eq);
    const flag = Object.hasOwn(spec.flags, name) ? spec.flags[name] : undefined;
    if (flag === undefined) return err(`${cmd}: unknown flag ${shown(`--${name}`)}`);
    if (flags.has(name)) return err(`${cmd}: --${name} given twice`);
    if (flag.switch) {
      if (eq !== -1) return err(`${cmd}: --${name} takes no value`);
      flags.set(name, true);
      continue;
    }
    const text = eq === -1 ? argv[++i] : arg.slice(eq + 1);
    if (text === undefined) return err(`${cmd}: --${name} needs a value`);
    const parsed = flag.parse ? flag.parse(text) : ok(text);
    if (!parsed.ok) return err(`${cmd}: --${name} ${JSON.stringify(text)}: ${parsed.error}`);
    flags.set(name, parsed.value);
  }
  if (positional.length > spec.positional.length && !spec.filter) {
    return err(`${cmd}: unexpected argument ${JSON.stringify(positional[spec.positional.length])}`);
  }
  if (positional.length < spec.positional.length) return err(`${cmd}: missing ${spec.positional[positional.length]}`);
  const filter = positional.splice(spec.positional.length).join(" ");
  return ok({ flags, positional, filter });
}

const str = (p: Parsed, k: string): string | undefined => {
  const v = p.flags.get(k);
  return typeof v === "string" ? v : undefined;
};
const num = (p: Parsed, k: string): number | undefined => {
  const v = p.flags.get(k);
  return typeof v === "number" ? v : undefined;
};

const PROTOS: readonly ShorthandProto[] = ["icmp-echo", "any", "icmp", "tcp", "udp"];
const protoOf = (p: Parsed): ShorthandProto | undefined => PROTOS.find((x) => x === str(p, "proto"));

/** FILTER and the shorthands, compiled. */
function filterOf(cmd: string, p: Parsed): Result<CaptureFilter> {
  const shorthands: Shorthands = {};
  const proto = protoOf(p), host = str(p, "host"), port = num(p, "port");
  if (proto !== undefined) shorthands.proto = proto;
  if (host !== undefined) shorthands.host = host;
  if (port !== undefined) shorthands.port = port;
  const icmpOnly = proto === "icmp" || proto === "icmp-echo" || (proto === undefined && p.filter === "");
  if (port !== undefined && icmpOnly) return err(`${cmd}: --port needs --proto tcp, udp or any (ICMP has no ports)`);
  const built = buildFilter(p.filter, shorthands);
  if (!built.ok) return err(`${cmd}: filter: ${built.error}`);
  return ok({ expression: built.value.expression, program: built.value.program });
}

function sourceOf(text: string | undefined): SourceSpec {
  if (text === undefined) return "auto";
  return text === "auto" || text === "ebpf" || text === "tracefs" || text === "demo" ? text : { file: text };
}

const shownSource = (s: SourceSpec): string => (typeof s === "object" ? shown(s.file) : s);

function liveSourceOf(text: string | undefined): LiveSource {
  return text === "ebpf" || text === "tracefs" ? text : "auto";
}

/** Turns the scanned flags into a command; only cross-flag rules are checked here. */
function build(cmd: string, p: Parsed): Result<Command> {
  switch (cmd) {
    case "serve": {
      // serve's --host and --port are where it listens, not shorthands
      const built = filterOf(cmd, { ...p, flags: new Map() });
      if (!built.ok) return built;
      const source = sourceOf(str(p, "source"));
      if (p.filter !== "" && (source === "demo" || typeof source === "object")) {
        return err(`serve: a FILTER applies to live capture; --source ${shownSource(source)} replays a recording as it is`);
      }
      const c: Command = { cmd, host: str(p, "host") ?? "127.0.0.1", port: num(p, "port") ?? 8080,
        source, pace: p.flags.get("pace") === true, filter: built.value };
      const token = str(p, "token");
      if (token !== undefined) c.token = token;
      return ok(c);
    }
    case "trace":
    case "record": {
      const built = filterOf(cmd, p);
      if (!built.ok) return built;
      const filter = built.value;
      const durationS = num(p, "duration");
      const source = liveSourceOf(str(p, "source"));
      if (cmd === "record") {
        const out = str(p, "out");
        if (out === undefined) return err("record: --out FILE is required");
        return ok(durationS === undefined ? { cmd, out, filter, source } : { cmd, out, durationS, filter, source });
      }
      const c: Command = { cmd, json: p.flags.get("json") === true, filter, source };
      const count = num(p, "count");
      if (count !== undefined) c.count = count;
      if (durationS !== undefined) c.durationS = durationS;
      return ok(c);
    }
    default:
      return ok({ cmd: "import", file: p.positional[0] ?? "", format: (str(p, "format") ?? "auto") as ImportFormat,
        json: p.flags.get("json") === true });
  }
}

/** argv without node and the script: `["serve", "--port", "0"]`. */
export function parseArgs(argv: string[]): Result<Command> {
  if (argv.includes("--help") || argv.includes("-h") || argv[0] === "help") return ok({ cmd: "help" });
  const cmd = argv[0];
  if (cmd === undefined) return err("missing command (serve, trace, record or import); see pktpath --help");
  const scanned = scan(cmd, argv.slice(1));
  return scanned.ok ? build(cmd, scanned.value) : scanned;
}
