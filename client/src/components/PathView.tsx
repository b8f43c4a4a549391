// The D3 path drawing, rendered imperatively into one <svg> the component owns.
import { useLayoutEffect, useMemo, type RefObject } from "react";
import type { Ping } from "../../../shared/types.ts";
import { layoutPath, type LayoutOptions } from "../draw/layout.ts";
import { renderPath } from "../draw/render.ts";

interface Props {
  ping: Ping;
  title: string;
  presenting: boolean;
  svgRef: RefObject<SVGSVGElement | null>;
}

/** Long paths (a routed ping has 16 hops) get narrower columns so they fit a screen share unscrolled. */
function layoutOptionsFor(ping: Ping): Partial<LayoutOptions> {
  const hops = (ping.request?.hops.length ?? 0) + (ping.reply?.hops.length ?? 0);
  return hops > 10 ? { colWidth: 88 } : {};
}

export function PathView({ ping, title, presenting, svgRef }: Props) {
  const layout = useMemo(() => layoutPath(ping, layoutOptionsFor(ping)), [ping]);
  useLayoutEffect(() => {
    if (svgRef.current) renderPath(svgRef.current, layout, { title });
  }, [layout, title, svgRef]);
  // Scale with the pane, but not so far that text becomes tiny (scroll instead) or, off-stage, huge.
  const style = {
    width: "100%",
    height: "auto",
    minWidth: `${Math.round(layout.width * 0.75)}px`,
    maxWidth: presenting ? `${Math.round(layout.width * 2.2)}px` : `${Math.round(layout.width * 1.3)}px`,
  };
  return (
    <div className="path-scroll">
      <svg ref={svgRef} className="path-svg" style={style} aria-label={`Path of ${title}`} />
    </div>
  );
}
