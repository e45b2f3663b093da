// The top of every page: the name, the live badge, the pages this role may open, and who is
// logged in (the user menu), or "Log in" when anyone may read.
import { useEffect, useRef, useState } from "preact/hooks";
import type { LiveState } from "../lib/live.ts";
import type { Route } from "../lib/route.ts";
import { may, type Session } from "../lib/session.ts";
import { Failure, useAction } from "./forms.ts";
import { html } from "./html.ts";

function ConnectionBadge({ state }: { state: LiveState }) {
  const text =
    state.kind === "connected" ? "live" : state.kind === "connecting" ? "connecting…" : `reconnecting in ${state.inSeconds} s (${state.reason})`;
  return html`<span class=${`badge badge-${state.kind}`} data-state=${state.kind} role="status" aria-live="polite">
    <span class="dot" aria-hidden="true">${state.kind === "connected" ? "●" : "○"}</span> ${text}</span>`;
}

function Nav({ route, session }: { route: Route; session: Session }) {
  const role = session.role;
  const link = (href: string, label: string, here: boolean) => html`<a href=${href} aria-current=${here ? "page" : undefined}>${label}</a>`;
  return html`<nav class="nav" aria-label="Pages">
    ${link("#/", "Machines", route.page === "machines" || route.page === "machine")}
    ${link("#/outages", "Outages", route.page === "outages")}
    ${link("#/silences", "Silences", route.page === "silences")}
    ${link("#/jobs", "Jobs", route.page === "jobs")}
    ${link("#/runs", "Runs", route.page === "runs" || route.page === "run")}
    ${may.manageChannels(role) ? link("#/channels", "Channels", route.page === "channels")
      : may.readDeliveries(role) ? link("#/channels", "Deliveries", route.page === "channels") : null}
    ${may.manageCredentials(role) ? link("#/credentials", "Credentials", route.page === "credentials") : null}
    ${may.manageUsers(role) ? link("#/users", "Users", route.page === "users") : null}
    ${may.readAudit(role) ? link("#/audit", "Audit log", route.page === "audit") : null}
    ${link("#/instances", "Instances", route.page === "instances")}
  </nav>`;
}

/** A disclosure (<details>): Enter or a click opens it; Esc, a click elsewhere or a choice closes it. */
function UserMenu({ session }: { session: Session }) {
  const ref = useRef<HTMLDetailsElement>(null);
  const [open, setOpen] = useState(false);
  const logOut = useAction();
  useEffect(() => {
    if (!open) return;
    const outside = (e: PointerEvent) => ref.current?.contains(e.target as Node) || setOpen(false);
    document.addEventListener("pointerdown", outside);
    return () => document.removeEventListener("pointerdown", outside);
  }, [open]);
  const user = session.user!;
  const onKeyDown = (e: KeyboardEvent) => {
    if (e.key !== "Escape" || !open) return;
    e.preventDefault();
    setOpen(false);
    ref.current?.querySelector("summary")?.focus();
  };
  const closeOnChoice = (e: Event) => (e.target as HTMLElement).closest("a") && setOpen(false);
  const leave = () =>
    logOut.run(async () => {
      await session.logOut();
      location.hash = "#/";
    });
  return html`<details class="menu" ref=${ref} open=${open} onToggle=${(e: Event) => setOpen((e.target as HTMLDetailsElement).open)} onKeyDown=${onKeyDown}>
    <summary class="menu-button" title=${user.display_name || user.username}>
      <span class="sr-only">Account menu: </span><span class="user-name">${user.username}</span> <span class="tag">${user.role}</span>
    </summary>
    <ul class="menu-list" onClick=${closeOnChoice}>
      <li><a href="#/account/password">Change password</a></li>
      <li><a href="#/account/sessions">My sessions</a></li>
      <li><a href="#/account/tokens">My API tokens</a></li>
      <li><button type="button" onClick=${leave}>${logOut.busy ? "Logging out…" : "Log out"}</button></li>
    </ul>
    <${Failure} action=${logOut} />
  </details>`;
}

export function Header({ route, session, conn, onLogIn }: { route: Route; session: Session; conn: LiveState; onLogIn: () => void }) {
  return html`<header class="top">
    <h1><a href="#/">vxman</a></h1>
    <${ConnectionBadge} state=${conn} />
    <${Nav} route=${route} session=${session} />
    <div class="who">
      ${session.user
        ? html`<${UserMenu} session=${session} />`
        : html`<button type="button" class="primary" onClick=${onLogIn}>Log in</button>`}
    </div>
  </header>`;
}
