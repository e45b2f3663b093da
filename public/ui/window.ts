// Windowing: of a long list only the rows near the viewport exist in the DOM (about 30 of
// 10,000 or 100,000), positioned inside a spacer as tall as the whole list, so the page scrolls
// as if all were there. Row height is fixed per layout so a row's position is index × height.
// The row elements are recycled (assignSlots): scrolling hands the element of a machine that
// left the window to one that came into it, so a scroll frame changes text and attributes in
// place instead of building and throwing away a few hundred elements (style, layout tree and
// garbage for each: that was most of a frame).
import type { RefObject } from "preact";
import { useLayoutEffect, useRef, useState } from "preact/hooks";

export interface Range {
  start: number;
  end: number;
}

/** Extra rows rendered above and below the viewport, in px: enough that a wheel or touch scroll
 *  (which the compositor moves before the page redraws) shows rows, not a gap; every row more is
 *  work in every scroll frame. */
const OVERSCAN_PX = 240;

/**
 * The rows to render for a list whose top is `top` px from the viewport's top: those in view and
 * `overscan` more on each side. After a jump (nothing in view was rendered before: the scrollbar
 * dragged, End pressed) only the rows in view, `margin` false: the margin would be all new rows
 * too, drawn in the same frame and never seen in it; it follows when the page is idle.
 */
export function windowRange(top: number, viewport: number, rowHeight: number, count: number, overscan: number, previous: Range): Range & { margin: boolean } {
  const first = Math.min(count, Math.floor(Math.max(0, -top) / rowHeight));
  const last = Math.min(count, Math.ceil(Math.max(0, viewport - top) / rowHeight));
  const jumped = first >= previous.end || last <= previous.start;
  if (jumped && last > first) return { start: first, end: last, margin: false };
  return { start: Math.max(0, first - overscan), end: Math.min(count, last + overscan), margin: true };
}

/** Rows [start, end) to render for a list at `ref` of `count` rows of `rowHeight` px. */
export function useWindow(ref: RefObject<HTMLElement | null>, count: number, rowHeight: number, overscan = Math.max(2, Math.ceil(OVERSCAN_PX / rowHeight))): Range {
  const [range, setRange] = useState<Range>({ start: 0, end: Math.min(count, 40) });
  const shown = useRef(range);
  shown.current = range;
  useLayoutEffect(() => {
    let frame = 0;
    let idle = 0;
    const measure = (jumpsAllowed: boolean) => {
      frame = 0;
      const el = ref.current;
      if (!el) return;
      const previous = jumpsAllowed ? shown.current : { start: 0, end: count };
      const { start, end, margin } = windowRange(el.getBoundingClientRect().top, window.innerHeight, rowHeight, count, overscan, previous);
      if (!margin && !idle) idle = whenIdle(() => ((idle = 0), measure(false)));
      setRange((r) => (r.start === start && r.end === end ? r : { start, end }));
    };
    const schedule = () => {
      frame ||= requestAnimationFrame(() => measure(true));
    };
    measure(false);
    addEventListener("scroll", schedule, { passive: true });
    addEventListener("resize", schedule);
    return () => {
      removeEventListener("scroll", schedule);
      removeEventListener("resize", schedule);
      cancelAnimationFrame(frame);
      cancelIdle(idle);
    };
  }, [ref, count, rowHeight, overscan]);
  return range;
}

/** A redraw held while scrolling waits for this long without a scroll event… */
export const SCROLL_QUIET_MS = 150;
/** …but no longer than this in all, so a list scrolled without a pause still follows its changes. */
export const SCROLL_HOLD_MAX_MS = 1000;

/**
 * A redraw for a stream of changes (live updates), held while the page scrolls. At 100,000
 * machines checked every 60 s, ~1,700 updates a second redrew the list ~10 times a second, and
 * each redraw that fell into a scroll frame made that frame late. Held, it comes when the
 * scrolling pauses (`SCROLL_QUIET_MS`), or after `SCROLL_HOLD_MAX_MS` at most. The store takes
 * every change at once, and the rows a scroll frame draws read their machine from it, so they
 * show it as it is now; what waits is the rest of the list: its counts, its order, its filters.
 */
export function redrawAfterScrolling(redraw: () => void, clock: () => number = () => performance.now()): { changed(): void; stop(): void } {
  let lastScroll = -Infinity;
  let heldSince = 0;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const onScroll = () => {
    lastScroll = clock();
  };
  const due = () => {
    const now = clock();
    const quietIn = lastScroll + SCROLL_QUIET_MS - now;
    const limitIn = heldSince + SCROLL_HOLD_MAX_MS - now;
    if (quietIn > 0 && limitIn > 0) {
      timer = setTimeout(due, Math.min(quietIn, limitIn));
      return;
    }
    timer = undefined;
    redraw();
  };
  addEventListener("scroll", onScroll, { passive: true });
  return {
    changed() {
      if (timer !== undefined) return; // a held redraw will draw this change too
      heldSince = clock();
      due();
    },
    stop() {
      removeEventListener("scroll", onScroll);
      clearTimeout(timer);
      timer = undefined;
    },
  };
}

// Safari has no requestIdleCallback: a short timeout there.
const whenIdle = (fn: () => void): number =>
  typeof requestIdleCallback === "function" ? requestIdleCallback(fn, { timeout: 300 }) : (setTimeout(fn, 100) as unknown as number);
const cancelIdle = (id: number) => (typeof cancelIdleCallback === "function" ? cancelIdleCallback(id) : clearTimeout(id));

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

/**
 * Which row element (a slot, the row's key) shows each machine of the window `ids`, given the
 * previous assignment (in the order the rows were rendered). A machine still in the window keeps
 * its element; the elements of machines that left go, in their order, to the machines that came,
 * so a jump to another part of the list reuses every element where it stands (nothing created,
 * removed or moved), and a short scroll moves only the rows that wrapped around. The element
 * holding the keyboard focus (`pinned`, a machine id) never changes machine: focus stays on what
 * it was on, or goes with the row when that leaves the window.
 */
export function assignSlots(previous: ReadonlyMap<number, number>, ids: readonly number[], pinned?: number): Map<number, number> {
  const inWindow = new Set(ids);
  const free: number[] = [];
  let next = 0;
  for (const [id, slot] of previous) {
    next = Math.max(next, slot + 1);
    if (!inWindow.has(id) && id !== pinned) free.push(slot);
  }
  const slots = new Map<number, number>();
  let f = 0;
  for (const id of ids) slots.set(id, previous.get(id) ?? (f < free.length ? free[f++]! : next++));
  return slots;
}
