import { StrictMode } from "react";
import { createRoot } from "react-dom/client";
import { App } from "./App.tsx";
import { PingStore } from "./store.ts";
import { connectStream, streamUrl } from "./stream.ts";
import "./styles.css";

const root = document.getElementById("root");
if (!root) throw new Error("index.html has no #root element");
const store = new PingStore();
const stream = connectStream(streamUrl(location), store);
createRoot(root).render(
  <StrictMode>
    <App store={store} stream={stream} />
  </StrictMode>,
);
