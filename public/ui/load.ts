// Data a view fetches when it opens (and again on demand): the three states it can be in, and
// how the two that are not data read on screen.
import { useEffect, useRef, useState } from "preact/hooks";
import { api, ApiFailure } from "../lib/api.ts";
import { html } from "./html.ts";

export type Load<T> = { state: "loading" } | { state: "ok"; value: T } | { state: "error"; message: string };

/**
 * GET `path` when it (or `version`) changes; `reload()` asks again. While reloading the old
 * value stays on screen (no flicker); a new path starts from "loading". With `onMissing`, a 404
 * is that value rather than an error.
 */
export function useLoad<T>(path: string, version: unknown = 0, onMissing?: T): [Load<T>, () => void] {
  const [result, setResult] = useState<Load<T>>({ state: "loading" });
  const [round, setRound] = useState(0);
  const shownPath = useRef(path);
  useEffect(() => {
    let live = true;
    if (shownPath.current !== path) setResult({ state: "loading" });
    shownPath.current = path;
    api<T>(path).then(
      (value) => live && setResult({ state: "ok", value }),
      (err) => {
        if (!live) return;
        if (onMissing !== undefined && err instanceof ApiFailure && err.status === 404) setResult({ state: "ok", value: onMissing });
        else setResult({ state: "error", message: (err as Error).message });
      },
    );
    return () => {
      live = false;
    };
  }, [path, version, round]);
  return [result, () => setRound((r) => r + 1)];
}

/**
 * `value` once it has stayed the same for `quietMs` (or `maxWaitMs` after it first changed, when
 * it keeps changing): for data to reload after live changes. The live event can come before the
 * server has written what follows from it (an outage is closed by a batched write), and a whole
 * segment going down must not be a request per status update.
 */
export function useSettled<T>(value: T, quietMs: number, maxWaitMs: number): T {
  const [shown, setShown] = useState(value);
  const since = useRef<number | null>(null);
  useEffect(() => {
    if (Object.is(value, shown)) return;
    since.current ??= Date.now();
    const timer = setTimeout(() => {
      since.current = null;
      setShown(value);
    }, Math.min(quietMs, Math.max(0, since.current + maxWaitMs - Date.now())));
    return () => clearTimeout(timer);
  }, [value, shown, quietMs, maxWaitMs]);
  return shown;
}

/** "Loading …" or the failure in words; null once there is data to show. */
export function loadNotice(load: Load<unknown>, what: string) {
  if (load.state === "loading") return html`<p class="muted">Loading ${what}…</p>`;
  if (load.state === "error") return html`<p class="error" role="alert">${load.message}</p>`;
  return null;
}
