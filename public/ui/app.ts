// The dashboard: live connection, REST fallback, who is logged in, and which view is shown.
import { useCallback, useEffect, useRef, useState } from "preact/hooks";
import type { MonitoringState } from "../../src/api/health/index.ts";
import type { Machine } from "../../src/api/machines/model.ts";
import { ApiFailure, api, fetchAllMachines } from "../lib/api.ts";
import { LiveConnection, type LiveState } from "../lib/live.ts";
import { session, type Role } from "../lib/session.ts";
import { MachineStore } from "../lib/store.ts";
import type { ViewOptions } from "../lib/view.ts";
import { Detail } from "./detail.ts";
import { ConfirmDelete, LoginDialog } from "./dialogs.ts";
import { html } from "./html.ts";
import { MachineList } from "./machines.ts";

/** While the WebSocket is down, the list is reloaded over REST this often. */
const FALLBACK_REFRESH_MS = 60_000;
/** Relative times ("2 min ago") are redrawn this often. */
const CLOCK_MS = 10_000;

function useNow(every: number): number {
  const [now, setNow] = useState(Date.now());
  useEffect(() => {
    const id = setInterval(() => setNow(Date.now()), every);
    return () => clearInterval(id);
  }, [every]);
  return now;
}

/** A reason as a sentence: capitalised, with a full stop. */
const sentence = (s: string) => s.charAt(0).toUpperCase() + s.slice(1) + (/[.!?]$/.test(s) ? "" : ".");

function routeFromHash(): { machine: number | null } {
  const m = /^#\/machines\/(\d+)$/.exec(location.hash);
  return { machine: m ? Number(m[1]) : null };
}

function ConnectionBadge({ state }: { state: LiveState }) {
  const text =
    state.kind === "connected" ? "live" : state.kind === "connecting" ? "connecting…" : `reconnecting in ${state.inSeconds} s (${state.reason})`;
  return html`<span class=${`badge badge-${state.kind}`} data-state=${state.kind} role="status" aria-live="polite">
    <span class="dot" aria-hidden="true">${state.kind === "connected" ? "●" : "○"}</span> ${text}</span>`;
}

export function App({ store }: { store: MachineStore }) {
  const [version, setVersion] = useState(store.version);
  const [role, setRole] = useState<Role>(session.role());
  const [conn, setConn] = useState<LiveState>({ kind: "connecting" });
  const [monitoring, setMonitoring] = useState<MonitoringState | null>(null);
  const [notice, setNotice] = useState<string | null>(null);
  const [route, setRoute] = useState(routeFromHash);
  const [view, setView] = useState<ViewOptions>({ query: "", status: "all", sort: "status", descending: false });
  const [deleting, setDeleting] = useState<Machine | null>(null);
  const [loggingIn, setLoggingIn] = useState(false);
  const now = useNow(CLOCK_MS);
  const connRef = useRef(conn);
  connRef.current = conn;

  useEffect(() => store.subscribe(() => setVersion(store.version)), [store]);
  useEffect(() => {
    const onHash = () => setRoute(routeFromHash());
    addEventListener("hashchange", onHash);
    return () => removeEventListener("hashchange", onHash);
  }, []);

  const refresh = useCallback(async (machinesToo: boolean) => {
    try {
      const health = await api<MonitoringState>("/health").catch((err) => {
        // 503 still carries the body; anything else is for the machine list to report.
        if (err instanceof ApiFailure && err.status === 503) return null;
        throw err;
      });
      if (health) setMonitoring({ monitoring: health.monitoring, monitoring_reason: health.monitoring_reason });
      if (machinesToo) store.replaceAll(await fetchAllMachines());
      setNotice(null);
    } catch (err) {
      setNotice((err as Error).message);
    }
  }, [store]);

  useEffect(() => {
    const live = new LiveConnection(
      {
        hello: (h) => setMonitoring({ monitoring: h.monitoring, monitoring_reason: h.monitoring_reason }),
        snapshot: (machines) => {
          store.replaceAll(machines);
          setNotice(null);
        },
        events: (events) => store.apply(events),
        state: (s) => {
          setConn(s);
          // No list yet and no socket: load it over REST now rather than in a minute.
          if (s.kind === "reconnecting" && !store.loaded) void refresh(true);
        },
      },
      session.token,
    );
    live.start();
    const unsubscribe = session.subscribe(() => {
      setRole(session.role());
      live.restart();
    });
    const timer = setInterval(() => void refresh(connRef.current.kind !== "connected"), FALLBACK_REFRESH_MS);
    return () => {
      clearInterval(timer);
      unsubscribe();
      live.stop();
    };
  }, [store, refresh]);

  const canDelete = role === "admin";
  const onDeleted = (id: number) => {
    store.remove(id);
    setDeleting(null);
  };
  const detailMachine = route.machine === null ? undefined : store.machines.get(route.machine);

  return html`<div class="page">
    <header class="top">
      <h1><a href="#/">vxman</a></h1>
      <${ConnectionBadge} state=${conn} />
      <div class="who">
        ${role === "anonymous"
          ? html`<button type="button" class="primary" onClick=${() => setLoggingIn(true)}>Log in</button>`
          : html`<span class="muted">${role === "admin" ? "admin" : "read-only token"}</span>
              <button type="button" onClick=${() => session.logOut()}>Log out</button>`}
      </div>
    </header>
    ${monitoring?.monitoring === "off"
      ? html`<p class="banner warn" role="status">
          <strong>Monitoring is off:</strong> ${sentence(monitoring.monitoring_reason ?? "the server is not checking machines")}${" "}
          Statuses are not being updated by ping.</p>`
      : null}
    ${notice ? html`<p class="banner error" role="alert">${notice}</p>` : null}
    ${role !== "admin"
      ? html`<p class="banner info">
          Read-only. To delete machines,${" "}<button type="button" class="link" onClick=${() => setLoggingIn(true)}>log in</button>${" "}
          with the admin token (ADMIN_TOKEN, or the token the server printed in its log on the first start).</p>`
      : null}
    <main>
      ${route.machine !== null
        ? html`<${Detail} id=${route.machine} machine=${detailMachine} now=${now} canDelete=${canDelete} onDelete=${setDeleting} />`
        : html`<${MachineList} store=${store} version=${version} view=${view} setView=${setView} now=${now} canDelete=${canDelete} onDelete=${setDeleting} />`}
    </main>
    ${deleting ? html`<${ConfirmDelete} machine=${deleting} onClose=${() => setDeleting(null)} onDeleted=${onDeleted} />` : null}
    ${loggingIn ? html`<${LoginDialog} onClose=${() => setLoggingIn(false)} />` : null}
  </div>`;
}
