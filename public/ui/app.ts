// The dashboard's top: ask the server who this is, then show the login page or the dashboard.
// The answer is asked for again every minute, when the tab comes back into view and whenever the
// live socket breaks (dashboard.ts), so a session that ended elsewhere (expired, revoked, the
// user disabled) leads back to the login form instead of to a page that quietly stopped working.
import { useEffect, useState } from "preact/hooks";
import { backoffDelay } from "../lib/live.ts";
import type { Session } from "../lib/session.ts";
import type { MachineStore } from "../lib/store.ts";
import { Dashboard } from "./dashboard.ts";
import { html } from "./html.ts";
import { LoginPage } from "./login.ts";

const SESSION_CHECK_MS = 60_000;

/** Re-renders on every change of who is logged in; asks the server now and then. */
function useSession(session: Session): string | null {
  const [, setChanges] = useState(0);
  const [unreachable, setUnreachable] = useState<string | null>(null);
  useEffect(() => session.subscribe(() => setChanges((n) => n + 1)), [session]);
  useEffect(() => {
    let timer: ReturnType<typeof setTimeout> | undefined;
    let failures = 0;
    const check = async () => {
      clearTimeout(timer);
      try {
        await session.refresh();
        failures = 0;
        setUnreachable(null);
        timer = setTimeout(check, SESSION_CHECK_MS);
      } catch (err) {
        setUnreachable((err as Error).message);
        timer = setTimeout(check, backoffDelay(failures++));
      }
    };
    const onVisible = () => document.visibilityState === "visible" && void check();
    void check();
    document.addEventListener("visibilitychange", onVisible);
    return () => {
      clearTimeout(timer);
      document.removeEventListener("visibilitychange", onVisible);
    };
  }, [session]);
  return unreachable;
}

export function App({ store, session }: { store: MachineStore; session: Session }) {
  const unreachable = useSession(session);
  if (!session.who) {
    return html`<main class="login-page">
      <h1 class="brand">vxman</h1>
      ${unreachable ? html`<p class="banner error" role="alert">${unreachable}</p>` : html`<p class="muted">Loading…</p>`}
    </main>`;
  }
  if (!session.canRead) return html`<${LoginPage} session=${session} />`;
  // A new user is a new cookie: a fresh dashboard (and socket) for them.
  return html`<${Dashboard} key=${session.user?.id ?? "anyone"} store=${store} session=${session} />`;
}
