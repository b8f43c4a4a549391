// A real Chromium for the dashboard tests (/usr/bin/chromium through playwright-core), closed with
// everything else the test opened.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { chromium, type BrowserContext, type Page } from "playwright-core";

export const CHROMIUM = "/usr/bin/chromium";
export const CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
  "--disable-background-networking", "--disable-component-update", "--disable-sync"];

export interface OpenBrowser {
  ctx: BrowserContext;
  page: Page;
  /** page errors and console errors, for an exact [] at the end */
  errors: string[];
  close(): Promise<void>;
}

export async function openChromium(prefix: string, viewport: { width: number; height: number }): Promise<OpenBrowser> {
  const profile = mkdtempSync(join(tmpdir(), `${prefix}-chromium-`));
  const ctx = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM, args: CHROMIUM_ARGS, headless: true, viewport, acceptDownloads: true,
  });
  const page = ctx.pages()[0] ?? (await ctx.newPage());
  const errors: string[] = [];
  page.on("pageerror", (e) => errors.push(e.message));
  page.on("console", (m) => { if (m.type() === "error") errors.push(m.text()); });
  return {
    ctx, page, errors,
    close: async () => {
      await Promise.race([ctx.close(), new Promise((r) => setTimeout(r, 10_000))]);
      rmSync(profile, { recursive: true, force: true });
    },
  };
}

/** Every SVG text matching `selector`: its text, its drawn font size in CSS px, and its box on screen. */
export function svgTexts(page: Page, selector: string): Promise<{ text: string; px: number; left: number; right: number; top: number; bottom: number }[]> {
  return page.locator(selector).evaluateAll((els) => els.map((e) => {
    const t = e as SVGTextElement;
    const r = t.getBoundingClientRect();
    const scale = t.getScreenCTM()?.a ?? 1;
    return { text: t.textContent ?? "", px: Number(t.getAttribute("font-size")) * scale, left: r.left, right: r.right, top: r.top, bottom: r.bottom };
  }));
}
