// How a worker thread is started from this module tree, whichever form it runs in. From the
// TypeScript sources (tests, a checkout being edited), workers do not inherit tsx's registration and
// Node 20 ignores `--import tsx` for a worker's entry: the entry is a line of JS that registers tsx,
// then imports the TypeScript worker. From the JavaScript that scripts/build-server.sh compiles (what
// `pktpath` runs once built), the worker is that module itself, and no thread loads tsx.

/** A module next to `from` (an import.meta.url), named without its extension: the .ts or .js one, as `from` is. */
export function siblingModule(name: string, from: string): URL {
  return new URL(`./${name}${from.endsWith(".ts") ? ".ts" : ".js"}`, from);
}

/** What to hand to `new Worker(…, { eval: true })` to run the module at `url`. */
export function workerEntry(url: URL): string {
  if (!url.pathname.endsWith(".ts")) return `import(${JSON.stringify(url.href)});`;
  const tsx = import.meta.resolve("tsx/esm/api");
  return `import(${JSON.stringify(tsx)}).then((m) => { m.register(); return import(${JSON.stringify(url.href)}); });`;
}
