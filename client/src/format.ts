// Display helpers of the page that are not shared with the terminal: text measure and the viewer's zone.

/** Rough width of a text in px for layout decisions (no DOM to measure with): deterministic for tests. */
export function estimateTextWidth(text: string, fontPx: number): number {
  return Math.ceil(text.length * fontPx * 0.6);
}

/** The zone the viewer reads times in (the browser's); every time shown names it. */
export function viewerZone(): string {
  try {
    return Intl.DateTimeFormat().resolvedOptions().timeZone || "UTC";
  } catch {
    return "UTC";
  }
}
