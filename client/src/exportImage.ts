// Export of the path view: an SVG drawn for the file (its own theme, a header saying what, where and
// when), and a PNG rasterized from that same SVG through an <img> and a canvas.
import type { Exchange } from "../../shared/types.ts";
import { layoutMap, type StepMode } from "./draw/layout.ts";
import { DARK, LIGHT, renderExport } from "./draw/render.ts";
import { layoutWaterfall } from "./draw/waterfall.ts";

export function serializeSvg(svg: SVGSVGElement): string {
  const copy = svg.cloneNode(true);
  if (copy instanceof Element) copy.removeAttribute("style");
  const text = new XMLSerializer().serializeToString(copy);
  return `<?xml version="1.0" encoding="UTF-8"?>\n${text}`;
}

function download(blob: Blob, filename: string): void {
  const url = URL.createObjectURL(blob);
  const a = document.createElement("a");
  a.href = url;
  a.download = filename;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 0);
}

function loadImage(url: string): Promise<HTMLImageElement> {
  return new Promise((resolve, reject) => {
    const img = new Image();
    img.onload = () => resolve(img);
    img.onerror = () => reject(new Error("the SVG could not be rasterized"));
    img.src = url;
  });
}

/** PNG at `scale`× the SVG's own size (2× stays sharp when pasted into slides). */
export async function svgToPngBlob(svg: SVGSVGElement, scale = 2): Promise<Blob> {
  const width = Number(svg.getAttribute("width")), height = Number(svg.getAttribute("height"));
  const url = URL.createObjectURL(new Blob([serializeSvg(svg)], { type: "image/svg+xml" }));
  try {
    const img = await loadImage(url);
    const canvas = document.createElement("canvas");
    canvas.width = Math.ceil(width * scale);
    canvas.height = Math.ceil(height * scale);
    const ctx = canvas.getContext("2d");
    if (!ctx) throw new Error("no 2D canvas available");
    ctx.scale(scale, scale);
    ctx.drawImage(img, 0, 0, width, height);
    return await new Promise<Blob>((resolve, reject) =>
      canvas.toBlob((b) => (b ? resolve(b) : reject(new Error("PNG encoding failed"))), "image/png"));
  } finally {
    URL.revokeObjectURL(url);
  }
}

export interface ExportOptions {
  width: number;
  steps: StepMode;
  theme: "light" | "dark";
  /** the lines over the picture: what, then when, host and source */
  header: string[];
  title: string;
}

export function exportSvgElement(x: Exchange, opts: ExportOptions): SVGSVGElement {
  const svg = document.createElementNS("http://www.w3.org/2000/svg", "svg");
  const map = layoutMap(x, { width: opts.width, steps: opts.steps });
  const wf = layoutWaterfall(x, { width: opts.width, steps: opts.steps });
  renderExport(svg, map, wf, opts.theme === "dark" ? DARK : LIGHT, opts.header, `Path of ${opts.title}`);
  return svg;
}

export async function exportPicture(kind: "svg" | "png", x: Exchange, opts: ExportOptions): Promise<void> {
  const svg = exportSvgElement(x, opts);
  const base = `pktpath-${x.id}-${x.dst}${x.at ? `-${x.at.slice(0, 19)}` : ""}`.replace(/[^\w.-]+/g, "_");
  if (kind === "svg") download(new Blob([serializeSvg(svg)], { type: "image/svg+xml" }), `${base}.svg`);
  else download(await svgToPngBlob(svg), `${base}.png`);
}
