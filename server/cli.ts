// `pktpath <command>`: parse the flags, run the command, exit with its status. Bad usage is one line on
// stderr and status 2; an unexpected failure is one line and status 1, never a stack trace.
import { oneLine } from "../shared/shown.ts";
import { parseArgs, USAGE } from "./args.ts";
import { runImport, runRecord, runServe, runTrace } from "./commands.ts";

async function main(argv: string[]): Promise<number> {
  const parsed = parseArgs(argv);
  if (!parsed.ok) {
    process.stderr.write(`pktpath: ${parsed.error}\n`);
    return 2;
  }
  const cmd = parsed.value;
  switch (cmd.cmd) {
    case "help":
      process.stdout.write(USAGE + "\n");
      return 0;
    case "serve":
      return runServe(cmd);
    case "trace":
      return runTrace(cmd);
    case "record":
      return runRecord(cmd);
    case "import":
      return runImport(cmd);
  }
}

/** Exits once stdout has drained: process.exit() would cut a piped NDJSON stream short. */
function exit(code: number): void {
  process.stdout.write("", () => process.exit(code));
}

main(process.argv.slice(2)).then(exit, (e: unknown) => {
  process.stderr.write(`pktpath: ${oneLine(e instanceof Error ? e.message : String(e))}\n`);
  if (process.env.PKTPATH_DEBUG) process.stderr.write(`${e instanceof Error ? e.stack : ""}\n`);
  exit(1);
});
