// A machine's SSH settings on its page: how vxman logs in to it for jobs (user, port, credential,
// and where each comes from: the machine, an SSH default, built in), its trusted host key, and a
// changed host key as a warning: logins stay refused until an admin accepts the new key. Admins
// change the machine's own settings here (a password goes wherever they point).
import { useState } from "preact/hooks";
import { api } from "../lib/api.ts";
import type { Credential, MachineSsh } from "../lib/jobs.ts";
import { may, type Role } from "../lib/session.ts";
import { TimeAgo } from "./bits.ts";
import { Failure, Field, useAction, valueOf } from "./forms.ts";
import { html } from "./html.ts";
import { loadNotice, useLoad } from "./load.ts";
import { credentialName, CredentialSelect } from "./ssh-defaults.ts";

const fromWords = (source: string | null) => (source === null ? "not set" : source === "machine" ? "this machine" : source === "built-in" ? "built in" : source.replace(/^default /, "SSH default "));

function SshForm({ ssh, credentials, onSaved, onCancel }: { ssh: MachineSsh; credentials: Credential[]; onSaved: () => void; onCancel: () => void }) {
  const [form, setForm] = useState({ user: ssh.own.user ?? "", port: ssh.own.port === null ? "" : String(ssh.own.port), credential: ssh.own.credential_id });
  const action = useAction();
  const save = action.onSubmit(async () => {
    // Empty clears the machine's own value: the defaults by label apply again.
    const body = { ssh: { user: form.user.trim() || null, port: form.port ? Number(form.port) : null, credential_id: form.credential } };
    await api(`/api/machines/${ssh.machine_id}`, { method: "PATCH", body });
    onSaved();
  });
  return html`<form class="form inline-form" onSubmit=${save} aria-label="This machine's SSH settings">
    <${Field} id="ssh-user" label="User" hint="Empty: from the SSH defaults" error=${action.about("ssh.user") ?? action.about("ssh")}>
      <input type="text" autocomplete="off" spellcheck=${false} value=${form.user} onInput=${(e: Event) => setForm({ ...form, user: valueOf(e) })} />
    </${Field}>
    <${Field} id="ssh-port" label="Port" hint="Empty: from the SSH defaults, else 22" error=${action.about("ssh.port")}>
      <input type="number" min="1" max="65535" value=${form.port} onInput=${(e: Event) => setForm({ ...form, port: valueOf(e) })} />
    </${Field}>
    <${Field} id="ssh-credential" label="Credential" error=${action.about("ssh.credential_id")}>
      <${CredentialSelect} value=${form.credential} credentials=${credentials} none="(from the SSH defaults)" onChange=${(id: number | null) => setForm({ ...form, credential: id })} />
    </${Field}>
    <div class="field submit actions start">
      <button type="button" onClick=${onCancel}>Cancel</button>
      <button type="submit" class="primary" aria-disabled=${action.busy}>${action.busy ? "Saving…" : "Save SSH settings"}</button>
    </div>
    <${Failure} action=${action} fields=${["ssh"]} />
  </form>`;
}

function ChangedKey({ ssh, admin, onAccepted }: { ssh: MachineSsh; admin: boolean; onAccepted: () => void }) {
  const action = useAction();
  const offered = ssh.offered_host_key!;
  const accept = () =>
    action.run(async () => {
      await api(`/api/machines/${ssh.machine_id}/host-key`, { method: "POST", body: { fingerprint: offered.fingerprint } });
      onAccepted();
    });
  return html`<div class="banner warn host-key-changed" role="alert">
    <p><strong>The host key changed.</strong> vxman refuses to log in here (before sending any credential) until an admin accepts the new key.
      Check it on the machine first (<code>ssh-keygen -lf /etc/ssh/ssh_host_*_key.pub</code>): a key that changed without a reinstall may mean someone is in between.</p>
    <dl class="facts compact">
      ${ssh.host_key ? html`<dt>Trusted</dt><dd class="mono break">${ssh.host_key.algorithm} ${ssh.host_key.fingerprint}</dd>` : null}
      <dt>Now offered</dt><dd class="mono break" data-offered>${offered.algorithm} ${offered.fingerprint}</dd>
    </dl>
    ${admin ? html`<button type="button" class="primary" aria-disabled=${action.busy} onClick=${accept}>${action.busy ? "Accepting…" : "Accept the new key"}</button>` : null}
    <${Failure} action=${action} />
  </div>`;
}

function SshView({ id, admin, credentials, now }: { id: number; admin: boolean; credentials: Credential[]; now: number }) {
  const [round, setRound] = useState(0);
  const [ssh] = useLoad<MachineSsh>(`/api/machines/${id}/ssh`, round);
  const [editing, setEditing] = useState(false);
  const [said, setSaid] = useState("");
  if (ssh.state !== "ok") return loadNotice(ssh, "SSH settings");
  const s = ssh.value;
  const reload = (text: string) => {
    setSaid(text);
    setEditing(false);
    setRound((n) => n + 1);
  };
  const credential = credentialName(s.effective.credential_id, credentials);
  return html`<div class="machine-ssh">
    ${s.offered_host_key ? html`<${ChangedKey} ssh=${s} admin=${admin} onAccepted=${() => reload("New host key accepted.")} />` : null}
    <p class="status-line" role="status" aria-live="polite">${said}</p>
    <dl class="facts">
      <dt>User</dt><dd>${s.effective.user ? html`<span class="mono">${s.effective.user}</span>` : html`<span class="muted">not set</span>`} <span class="muted">(${fromWords(s.effective.from.user)})</span></dd>
      <dt>Port</dt><dd>${s.effective.port} <span class="muted">(${fromWords(s.effective.from.port)})</span></dd>
      <dt>Credential</dt><dd>${credential ?? html`<span class="muted">not set</span>`} <span class="muted">(${fromWords(s.effective.from.credential_id)})</span></dd>
      <dt>Host key</dt><dd class="mono break" data-host-key>${s.host_key
        ? html`${s.host_key.algorithm} ${s.host_key.fingerprint} <span class="muted">(trusted since <${TimeAgo} iso=${s.host_key.recorded_at} now=${now} />)</span>`
        : html`<span class="muted">not known yet: trusted on the first login</span>`}</dd>
    </dl>
    ${!s.effective.user || s.effective.credential_id === null ? html`<p class="muted">Jobs end as "error" here until a user and a credential are set (on this machine or by an SSH default).</p>` : null}
    ${admin
      ? editing
        ? html`<${SshForm} ssh=${s} credentials=${credentials} onSaved=${() => reload("SSH settings saved.")} onCancel=${() => setEditing(false)} />`
        : html`<button type="button" onClick=${() => setEditing(true)}>Edit SSH settings</button>`
      : null}
  </div>`;
}

/** Admins also see credentials by name (only they may list them). */
function AdminSshView({ id, now }: { id: number; now: number }) {
  const [credentials] = useLoad<{ items: Credential[] }>("/api/credentials");
  return html`<${SshView} id=${id} admin=${true} credentials=${credentials.state === "ok" ? credentials.value.items : []} now=${now} />`;
}

export function MachineSshSection({ id, role, now }: { id: number; role: Role | null; now: number }) {
  return may.manageCredentials(role) ? html`<${AdminSshView} id=${id} now=${now} />` : html`<${SshView} id=${id} admin=${false} credentials=${[]} now=${now} />`;
}
