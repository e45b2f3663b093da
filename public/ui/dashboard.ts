// The dashboard once the page may read: live connection, REST fallback, banners, every machine's
// uptime (asked for once a minute), and the page the address names, with what the viewer's role
// may do on it.
import { useCallback, useEffect, useRef, useState } from "preact/hooks";
import type { MonitoringState } from "../../src/api/health/index.ts";
import type { Machine } from "../../src/api/machines/model.ts";
import { ApiFailure, api, fetchAllMachines } from "../lib/api.ts";
import { LiveConnection, type LiveState } from "../lib/live.ts";
import { routeOf, type Route } from "../lib/route.ts";
import { may, type Session } from "../lib/session.ts";
import type { MachineStore } from "../lib/store.ts";
import { FIRST_SORT, type ViewOptions } from "../lib/view.ts";
import { PasswordPage, SessionsPage } from "./account.ts";
import { AuditPage } from "./audit.ts";
import { ChannelsPage } from "./channels.ts";
import { CredentialsPage } from "./credentials.ts";
import { Detail } from "./detail.ts";
import { ConfirmDelete } from "./dialogs.ts";
import { Header } from "./header.ts";
import { html } from "./html.ts";
import { JobsPage } from "./jobs.ts";
import { InstancesPage } from "./instances.ts";
import { LoginDialog } from "./login.ts";
import { MachineList } from "./machines.ts";
import { OutagesPage } from "./outages.ts";
import { RunPage } from "./run.ts";
import { RunsPage } from "./runs.ts";
import { SilencesPage } from "./silences.ts";
import { TokensPage } from "./tokens.ts";
import { useUptime } from "./uptime.ts";
import { UsersPage } from "./users.ts";
import { redrawAfterScrolling } from "./window.ts";

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

function useRoute(): Route {
  const [route, setRoute] = useState(() => routeOf(location.hash));
  useEffect(() => {
    const onHash = () => setRoute(routeOf(location.hash));
    addEventListener("hashchange", onHash);
    return () => removeEventListener("hashchange", onHash);
  }, []);
  return route;
}

/** A reason as a sentence: capitalised, with a full stop. */
const sentence = (s: string) => s.charAt(0).toUpperCase() + s.slice(1) + (/[.!?]$/.test(s) ? "" : ".");

const Notice = ({ text }: { text: string }) => html`<section class="page-section"><h2 tabindex="-1">Not here</h2><p>${text}</p><p><a href="#/">← All machines</a></p></section>`;

export function Dashboard({ store, session }: { store: MachineStore; session: Session }) {
  const [version, setVersion] = useState(store.version);
  const [conn, setConn] = useState<LiveState>({ kind: "connecting" });
  const [monitoring, setMonitoring] = useState<MonitoringState | null>(null);
  const [notice, setNotice] = useState<string | null>(null);
  const route = useRoute();
  const [view, setView] = useState<ViewOptions>({ query: "", status: "all", label: "", group: "", ...FIRST_SORT });
  const uptime = useUptime(store.loaded);
  const [deleting, setDeleting] = useState<Machine | null>(null);
  const [loggingIn, setLoggingIn] = useState(false);
  const now = useNow(CLOCK_MS);
  const connRef = useRef(conn);
  connRef.current = conn;
  const role = session.role;

  useEffect(() => {
    const redraw = redrawAfterScrolling(() => setVersion(store.version));
    const unsubscribe = store.subscribe(redraw.changed);
    return () => (unsubscribe(), redraw.stop());
  }, [store]);

  // A link to a slice of the list (a group from the outages page, a label from a machine's page)
  // sets the list's filters, each time it is followed; the search and the sort stay as they were.
  const listFilter = route.page === "machines" ? route.filter : null;
  useEffect(() => {
    if (listFilter) setView((v) => ({ ...v, label: listFilter.label ?? "", group: listFilter.group ?? "", status: listFilter.status ?? "all" }));
  }, [listFilter]);

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
    const live = new LiveConnection({
      hello: (h) => setMonitoring({ monitoring: h.monitoring, monitoring_reason: h.monitoring_reason }),
      snapshot: (machines, order) => {
        store.replaceAll(machines, order);
        setNotice(null);
      },
      events: (events) => store.apply(events),
      state: (s) => {
        setConn(s);
        if (s.kind !== "reconnecting") return;
        // A socket refused for want of a login closes like any other: ask whether the session
        // is still there (if not, the login form replaces this page and the socket stops).
        void session.refresh().catch(() => {});
        // No list yet and no socket: load it over REST now rather than in a minute.
        if (!store.loaded) void refresh(true);
      },
    });
    live.start();
    const timer = setInterval(() => void refresh(connRef.current.kind !== "connected"), FALLBACK_REFRESH_MS);
    return () => {
      clearInterval(timer);
      live.stop();
    };
  }, [store, session, refresh]);

  // A new page takes focus at its heading (a machine's page does so itself), so a screen
  // reader says where it landed; not on the first load, which starts at the top as usual.
  const firstRoute = useRef(true);
  useEffect(() => {
    if (firstRoute.current) firstRoute.current = false;
    else if (route.page !== "machine") document.querySelector<HTMLElement>("main h2[tabindex]")?.focus();
  }, [route.page, route.page === "account" ? route.section : ""]);

  const onDeleted = (id: number) => {
    store.remove(id);
    setDeleting(null);
  };

  const page = () => {
    switch (route.page) {
      case "machines":
        return html`<${MachineList} store=${store} version=${version} view=${view} setView=${setView} now=${now} uptime=${uptime}
          canDelete=${may.deleteMachines(role)} onDelete=${setDeleting} />`;
      case "machine":
        return html`<${Detail} id=${route.id} machine=${store.machines.get(route.id)} uptime=${uptime.get(route.id)} now=${now} role=${role}
          onDelete=${setDeleting} onChanged=${(m: Machine) => store.put(m)} />`;
      case "outages":
        return html`<${OutagesPage} store=${store} now=${now} />`;
      case "silences":
        return html`<${SilencesPage} store=${store} now=${now} role=${role} machine=${route.machine} />`;
      case "channels":
        if (may.manageChannels(role) || may.readDeliveries(role)) return html`<${ChannelsPage} role=${role} now=${now} />`;
        return html`<${Notice} text="Notification channels are set up by admins; operators see what was sent." />`;
      case "users":
        return may.manageUsers(role) ? html`<${UsersPage} me=${session.user!.id} now=${now} />` : html`<${Notice} text="Users are managed by admins." />`;
      case "audit":
        return may.readAudit(role) ? html`<${AuditPage} />` : html`<${Notice} text="The audit log is for admins." />`;
      case "jobs":
        return html`<${JobsPage} store=${store} role=${role} now=${now} />`;
      case "runs":
        return html`<${RunsPage} job=${route.job} status=${route.status} now=${now} />`;
      case "run":
        return html`<${RunPage} key=${route.id} id=${route.id} role=${role} now=${now} />`;
      case "credentials":
        return may.manageCredentials(role) ? html`<${CredentialsPage} now=${now} />` : html`<${Notice} text="SSH credentials are kept by admins." />`;
      case "instances":
        return html`<${InstancesPage} now=${now} />`;
      case "account":
        if (!session.user) return html`<${Notice} text="Log in to see your account." />`;
        if (route.section === "password") return html`<${PasswordPage} />`;
        if (route.section === "sessions") return html`<${SessionsPage} now=${now} />`;
        return html`<${TokensPage} role=${session.user.role} now=${now} />`;
      case "missing":
        return html`<${Notice} text="There is no such page." />`;
    }
  };

  return html`<div class="page">
    <${Header} route=${route} session=${session} conn=${conn} onLogIn=${() => setLoggingIn(true)} />
    ${monitoring?.monitoring === "off"
      ? html`<p class="banner warn" role="status">
          <strong>Monitoring is off:</strong> ${sentence(monitoring.monitoring_reason ?? "the server is not checking machines")}${" "}
          Statuses are not being updated by ping.</p>`
      : null}
    ${notice ? html`<p class="banner error" role="alert">${notice}</p>` : null}
    ${!session.user
      ? html`<p class="banner info">${session.ended ? "Your session has ended; log in again to do more than read." : "Anyone may read this dashboard; log in to do more."}</p>`
      : null}
    <main>${page()}</main>
    ${deleting ? html`<${ConfirmDelete} machine=${deleting} onClose=${() => setDeleting(null)} onDeleted=${onDeleted} />` : null}
    ${loggingIn ? html`<${LoginDialog} session=${session} onClose=${() => setLoggingIn(false)} />` : null}
  </div>`;
}
