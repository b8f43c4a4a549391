// Preloaded into the process bench/soak.ts measures (node --import): the main thread's event-loop
// delay over the last 5 s, printed to stderr every 5 s as one line bench/soak.ts reads. Plain JS: it loads before tsx.
import { monitorEventLoopDelay } from "node:perf_hooks";

const h = monitorEventLoopDelay({ resolution: 10 });
h.enable();
const ms = (ns) => (ns / 1e6).toFixed(1);
setInterval(() => {
  process.stderr.write(`loop-delay p50=${ms(h.percentile(50))} p99=${ms(h.percentile(99))} max=${ms(h.max)} ms\n`);
  h.reset();
}, 5000).unref();
