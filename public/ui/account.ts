// The user menu's own pages: change my password, and my sessions (where I am logged in). My API
// tokens are in tokens.ts.
import { useState } from "preact/hooks";
import type { Session as LoginSession } from "../../src/people/model.ts";
import { api } from "../lib/api.ts";
import { TimeAgo } from "./bits.ts";
import { Failure, Field, useAction, valueOf } from "./forms.ts";
import { html } from "./html.ts";
import { loadNotice, useLoad } from "./load.ts";

export const PASSWORD_RULES = "At least 10 characters; not a well-known password; not containing the user name.";

export function PasswordPage() {
  const [current, setCurrent] = useState("");
  const [next, setNext] = useState("");
  const [again, setAgain] = useState("");
  const [mismatch, setMismatch] = useState(false);
  const [done, setDone] = useState(false);
  const action = useAction();
  const submit = (e: Event) => {
    e.preventDefault();
    setDone(false);
    setMismatch(next !== again);
    if (next !== again) return action.clear(); // the server's last words were about other values
    void action.run(async () => {
      await api("/api/session/password", { method: "PUT", body: { current_password: current, new_password: next } });
      setCurrent("");
      setNext("");
      setAgain("");
      setDone(true);
    });
  };
  return html`<section class="page-section" aria-labelledby="password-h">
    <h2 id="password-h" tabindex="-1">Change password</h2>
    <form class="form narrow" onSubmit=${submit}>
      <${Field} id="pw-current" label="Current password" error=${action.about("current_password")}>
        <input type="password" autocomplete="current-password" required value=${current} onInput=${(e: Event) => setCurrent(valueOf(e))} />
      </${Field}>
      <${Field} id="pw-new" label="New password" hint=${PASSWORD_RULES} error=${action.about("new_password")}>
        <input type="password" autocomplete="new-password" required value=${next} onInput=${(e: Event) => setNext(valueOf(e))} />
      </${Field}>
      <${Field} id="pw-again" label="New password again" error=${mismatch ? "The two new passwords differ." : undefined}>
        <input type="password" autocomplete="new-password" required value=${again} onInput=${(e: Event) => setAgain(valueOf(e))} />
      </${Field}>
      <${Failure} action=${action} />
      ${done ? html`<p class="banner ok" role="status">Password changed. Your other sessions have ended; this one goes on.</p>` : null}
      <div class="actions start">
        <button type="submit" class="primary" aria-disabled=${action.busy}>${action.busy ? "Changing…" : "Change password"}</button>
      </div>
    </form>
  </section>`;
}

/** "Firefox on Linux"-level words are guesswork; the agent as sent, shortened, says enough. */
const agent = (ua: string | null) => (ua ? (ua.length > 90 ? `${ua.slice(0, 90)}…` : ua) : "unknown browser");

function SessionItem({ s, now, onEnded }: { s: LoginSession; now: number; onEnded: () => void }) {
  const action = useAction();
  const end = () =>
    action.run(async () => {
      await api(`/api/sessions/${s.id}`, { method: "DELETE" });
      onEnded();
    });
  return html`<li class=${`item${s.current ? " current" : ""}`} data-session=${s.id}>
    <div class="item-main">
      <strong>${s.current ? "This browser" : `Session ${s.id}`}</strong>
      ${s.current ? html` <span class="tag">current</span>` : null}
      <div class="muted break">${agent(s.user_agent)}</div>
      <div class="muted">From ${s.address ?? "an unknown address"} · logged in <${TimeAgo} iso=${s.created_at} now=${now} /> · last used <${TimeAgo} iso=${s.last_used_at} now=${now} /></div>
    </div>
    ${s.current
      ? null
      : html`<button type="button" aria-disabled=${action.busy} aria-label=${`Log out session ${s.id}`}
          onClick=${end}>${action.busy ? "Logging out…" : "Log out"}</button>`}
    <${Failure} action=${action} />
  </li>`;
}

export function SessionsPage({ now }: { now: number }) {
  const [sessions, reload] = useLoad<{ items: LoginSession[] }>("/api/sessions");
  return html`<section class="page-section" aria-labelledby="sessions-h">
    <h2 id="sessions-h" tabindex="-1">My sessions</h2>
    <p class="muted">Where you are logged in. Log out a session you do not recognise, then change your password.</p>
    ${sessions.state !== "ok"
      ? loadNotice(sessions, "sessions")
      : html`<ul class="items">${sessions.value.items.map((s) => html`<${SessionItem} key=${s.id} s=${s} now=${now} onEnded=${reload} />`)}</ul>`}
  </section>`;
}
