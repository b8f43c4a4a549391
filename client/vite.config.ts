// The dashboard build: client/ is the root, output in client/dist (what `pktpath serve` hands out).
// In development (`npx vite --config client/vite.config.ts`) /api, the WebSocket included, goes to a
// `pktpath serve` on 127.0.0.1:8080.
import react from "@vitejs/plugin-react";
import { fileURLToPath } from "node:url";
import { defineConfig } from "vite";

const root = fileURLToPath(new URL(".", import.meta.url));
// The client imports ../shared; the dev server may read it.
const repoRoot = fileURLToPath(new URL("..", import.meta.url));

export default defineConfig({
  root,
  plugins: [react()],
  build: {
    outDir: fileURLToPath(new URL("./dist", import.meta.url)),
    emptyOutDir: true,
    sourcemap: true,
  },
  server: {
    fs: { allow: [repoRoot] },
    proxy: {
      "/api": { target: "http://127.0.0.1:8080", ws: true, changeOrigin: true },
    },
  },
});
