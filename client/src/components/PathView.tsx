// The path map and its waterfall, laid out for the pane's own width (so text keeps its size and
// nothing scrolls sideways) and drawn imperatively by draw/render.ts.
import { useLayoutEffect, useMemo, useRef, useState, type RefObject } from "react";
import type { PathSubject } from "../../../shared/topology.ts";
import { layoutMap, presentationScale, type StepMode } from "../draw/layout.ts";
import { DARK, renderMap, renderWaterfall } from "../draw/render.ts";
import { layoutWaterfall } from "../draw/waterfall.ts";

interface Props {
  subject: PathSubject;
  title: string;
  steps: StepMode;
  /** presentation: laid out narrower and drawn larger, so text grows with the screen and still fits */
  presenting?: boolean;
  /** the width the drawing was laid out for, for exports */
  widthRef: RefObject<number>;
}

function usePaneWidth(el: RefObject<HTMLDivElement | null>): number {
  const [width, setWidth] = useState(0);
  useLayoutEffect(() => {
    const node = el.current;
    if (!node) return;
    const measure = (): void => setWidth(Math.floor(node.clientWidth));
    measure();
    const ro = new ResizeObserver(measure);
    ro.observe(node);
    return () => ro.disconnect();
  }, [el]);
  return width;
}

export function PathView({ subject, title, steps, presenting = false, widthRef }: Props) {
  const pane = useRef<HTMLDivElement>(null);
  const mapEl = useRef<SVGSVGElement>(null);
  const wfEl = useRef<SVGSVGElement>(null);
  const paneWidth = usePaneWidth(pane);
  const scale = presenting ? presentationScale(paneWidth) : 1;
  const width = Math.max(480, Math.floor((paneWidth - 2) / scale));
  const map = useMemo(() => layoutMap(subject, { width, steps }), [subject, width, steps]);
  const wf = useMemo(() => layoutWaterfall(subject, { width, steps }), [subject, width, steps]);
  widthRef.current = width;
  useLayoutEffect(() => {
    if (mapEl.current) renderMap(mapEl.current, map, DARK, `Path of ${title}`);
    if (wfEl.current) renderWaterfall(wfEl.current, wf, DARK, `Waterfall of ${title}`);
  }, [map, wf, title]);
  return (
    <div className="path-pane" ref={pane}>
      <svg ref={mapEl} className="path-svg" style={scale !== 1 ? { width: map.width * scale, height: map.height * scale } : undefined} />
      <details className="waterfall" open>
        <summary>Waterfall: where the time went ({wf.rows.length} {steps === "all" ? "steps" : "device hops"})</summary>
        <svg ref={wfEl} className="waterfall-svg" style={scale !== 1 ? { width: wf.width * scale, height: wf.height * scale } : undefined} />
      </details>
    </div>
  );
}
