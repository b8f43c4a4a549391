// Preloaded into the process bench/soak.ts measures (node --import): the main thread's event-loop
// delay over the last 5 s, printed to stderr every 5 s as one line bench/soak.ts reads. On SIGUSR2
// (bench/soak.ts sends it as the flood starts) the figures so far are printed as the time before,
// and the 5 s windows start again from then, so that none mixes the start-up with the flood.
// Plain JS: it loads before tsx.
import { monitorEventLoopDelay } from "node:perf_hooks";

const h = monitorEventLoopDelay({ resolution: 10 });
h.enable();
const ms = (ns) => (ns / 1e6).toFixed(1);
const report = (what) => {
  process.stderr.write(`${what} p50=${ms(h.percentile(50))} p99=${ms(h.percentile(99))} max=${ms(h.max)} ms\n`);
  h.reset();
};
const every5s = () => setInterval(() => report("loop-delay"), 5000).unref();
let timer = every5s();
process.on("SIGUSR2", () => {
  clearInterval(timer);
  report("loop-delay-before");
  timer = every5s();
});
