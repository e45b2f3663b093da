// Logging in: the page shown to whoever is not logged in (when reads need a login), the same
// form in a dialog (when anyone may read), and what to do when no user exists yet.
import { useEffect, useState } from "preact/hooks";
import type { Session } from "../lib/session.ts";
import { Modal } from "./dialogs.ts";
import { Failure, Field, useAction, valueOf } from "./forms.ts";
import { html } from "./html.ts";

const ENDED = "Your session has ended; log in again.";

function LoginForm({ session, onDone }: { session: Session; onDone?: () => void }) {
  const [username, setUsername] = useState("");
  const [password, setPassword] = useState("");
  const action = useAction();
  const submit = action.onSubmit(async () => {
    await session.logIn(username.trim(), password);
    onDone?.();
  });
  return html`<form class="login-form" onSubmit=${submit}>
    ${session.ended && !action.failure ? html`<p class="banner warn" role="alert">${ENDED}</p>` : null}
    <${Field} id="login-username" label="User name">
      <input type="text" name="username" autocomplete="username" autocapitalize="none" spellcheck=${false} required data-autofocus
        value=${username} onInput=${(e: Event) => setUsername(valueOf(e))} />
    </${Field}>
    <${Field} id="login-password" label="Password">
      <input type="password" name="password" autocomplete="current-password" required value=${password}
        onInput=${(e: Event) => setPassword(valueOf(e))} />
    </${Field}>
    <${Failure} action=${action} />
    <div class="actions">
      ${onDone ? html`<button type="button" onClick=${onDone}>Cancel</button>` : null}
      <button type="submit" class="primary" aria-disabled=${action.busy}>${action.busy ? "Logging in…" : "Log in"}</button>
    </div>
  </form>`;
}

/** Before the first user: nobody can log in, and only the server's shell can make one. */
function NoUsersYet({ session }: { session: Session }) {
  const check = useAction();
  return html`<div class="banner info no-users" role="status">
    <p><strong>No user exists yet.</strong> On the server, run:</p>
    <pre class="command"><code>vxman user add NAME --role admin</code></pre>
    <p>It asks for the new user's password. Then log in here.</p>
    <button type="button" aria-disabled=${check.busy} onClick=${() => check.run(() => session.refresh())}>Check again</button>
    <${Failure} action=${check} />
  </div>`;
}

/** The whole page while reads need a login and there is none. */
export function LoginPage({ session }: { session: Session }) {
  const noUsers = session.who?.users_exist === false;
  useEffect(() => document.getElementById("login-username")?.focus(), [noUsers]);
  return html`<main class="login-page" aria-labelledby="login-h">
    <h1 class="brand">vxman</h1>
    <section class="login-box">
      <h2 id="login-h" tabindex="-1">Log in</h2>
      ${noUsers ? html`<${NoUsersYet} session=${session} />` : html`<${LoginForm} session=${session} />`}
    </section>
  </main>`;
}

/** The same form in a dialog, for the "Log in" button of a dashboard anyone may read. */
export function LoginDialog({ session, onClose }: { session: Session; onClose: () => void }) {
  return html`<${Modal} id="login" title="Log in" onCancel=${onClose}>
    <${LoginForm} session=${session} onDone=${onClose} />
  </${Modal}>`;
}
