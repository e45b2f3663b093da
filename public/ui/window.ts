// Windowing: of a long list only the rows near the viewport exist in the DOM (about 60 of
// 10,000), positioned inside a spacer as tall as the whole list, so the page scrolls as if all
// were there. Row height is fixed per layout so a row's position is index × height.
import type { RefObject } from "preact";
import { useLayoutEffect, useState } from "preact/hooks";

export interface Range {
  start: number;
  end: number;
}

/** Rows [start, end) to render for a list at `ref` of `count` rows of `rowHeight` px. */
export function useWindow(ref: RefObject<HTMLElement | null>, count: number, rowHeight: number, overscan = 10): Range {
  const [range, setRange] = useState<Range>({ start: 0, end: Math.min(count, 40) });
  useLayoutEffect(() => {
    let frame = 0;
    const measure = () => {
      frame = 0;
      const el = ref.current;
      if (!el) return;
      const top = el.getBoundingClientRect().top;
      const first = Math.floor(Math.max(0, -top) / rowHeight);
      const last = Math.ceil(Math.max(0, window.innerHeight - top) / rowHeight);
      const start = Math.min(count, Math.max(0, first - overscan));
      const end = Math.min(count, last + overscan);
      setRange((r) => (r.start === start && r.end === end ? r : { start, end }));
    };
    const schedule = () => {
      frame ||= requestAnimationFrame(measure);
    };
    measure();
    addEventListener("scroll", schedule, { passive: true });
    addEventListener("resize", schedule);
    return () => {
      removeEventListener("scroll", schedule);
      removeEventListener("resize", schedule);
      cancelAnimationFrame(frame);
    };
  }, [ref, count, rowHeight, overscan]);
  return range;
}

/** Whether the viewport is at least `px` wide, following changes (rotation, resizing). */
export function useMinWidth(px: number): boolean {
  const query = `(min-width: ${px}px)`;
  const [matches, setMatches] = useState(() => matchMedia(query).matches);
  useLayoutEffect(() => {
    const mq = matchMedia(query);
    const onChange = () => setMatches(mq.matches);
    mq.addEventListener("change", onChange);
    onChange();
    return () => mq.removeEventListener("change", onChange);
  }, [query]);
  return matches;
}
