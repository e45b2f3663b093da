// SSH credentials, for admins: the list (name, kind, the key's fingerprint, when last used),
// adding a key (with its passphrase, if it has one) or a password, deleting one (refused while a
// machine or an SSH default uses it). A secret goes to the server once and is never shown again:
// the form forgets it as soon as the server has it. Below, SSH defaults by label.
import { useState } from "preact/hooks";
import { api } from "../lib/api.ts";
import type { Credential } from "../lib/jobs.ts";
import { TimeAgo } from "./bits.ts";
import { Confirm } from "./dialogs.ts";
import { Failure, Field, useAction, valueOf } from "./forms.ts";
import { html } from "./html.ts";
import { loadNotice, useLoad } from "./load.ts";
import { SshDefaults } from "./ssh-defaults.ts";

const EMPTY = { name: "", kind: "ssh-key" as Credential["kind"], private_key: "", passphrase: "", password: "" };

function NewCredential({ onAdded }: { onAdded: (c: Credential) => void }) {
  const [form, setForm] = useState(EMPTY);
  const action = useAction();
  const text = (key: "name" | "private_key" | "passphrase" | "password") => (e: Event) => setForm({ ...form, [key]: valueOf(e) });
  const add = action.onSubmit(async () => {
    const body = form.kind === "ssh-key"
      ? { name: form.name.trim(), kind: form.kind, private_key: form.private_key, ...(form.passphrase ? { passphrase: form.passphrase } : {}) }
      : { name: form.name.trim(), kind: form.kind, password: form.password };
    const made = await api<Credential>("/api/credentials", { method: "POST", body });
    setForm(EMPTY);
    onAdded(made);
  });
  const kind = (value: Credential["kind"], label: string) => html`<label class="check">
    <input type="radio" name="credential-kind" value=${value} checked=${form.kind === value} onChange=${() => setForm({ ...form, kind: value })} /> ${label}</label>`;
  return html`<form class="form channel-form" onSubmit=${add} aria-labelledby="new-credential-h">
    <${Field} id="credential-name" label="Name" error=${action.about("name")}>
      <input type="text" required maxlength="100" autocomplete="off" value=${form.name} onInput=${text("name")} />
    </${Field}>
    <div class="choices" role="radiogroup" aria-label="Kind">${kind("ssh-key", "SSH private key")} ${kind("password", "Password")}</div>
    ${form.kind === "ssh-key"
      ? html`<${Field} id="credential-key" label="Private key" hint="OpenSSH or PEM format; ed25519, ECDSA or RSA. Only its fingerprint is ever shown again." error=${action.about("private_key")}>
            <textarea class="mono" rows="6" required spellcheck=${false} autocomplete="off" value=${form.private_key} onInput=${text("private_key")} />
          </${Field}>
          <${Field} id="credential-passphrase" label="Passphrase" hint="Only if the key has one" error=${action.about("passphrase")}>
            <input type="password" autocomplete="new-password" value=${form.passphrase} onInput=${text("passphrase")} />
          </${Field}>`
      : html`<${Field} id="credential-password" label="Password" hint="Sent to every machine that uses this credential: prefer a key." error=${action.about("password")}>
          <input type="password" required autocomplete="new-password" value=${form.password} onInput=${text("password")} />
        </${Field}>`}
    <${Failure} action=${action} fields=${["name", "kind", "private_key", "passphrase", "password"]} />
    <div class="actions start"><button type="submit" class="primary" aria-disabled=${action.busy}>${action.busy ? "Adding…" : "Add credential"}</button></div>
  </form>`;
}

export function CredentialsPage({ now }: { now: number }) {
  const [list, reload] = useLoad<{ items: Credential[] }>("/api/credentials");
  const [deleting, setDeleting] = useState<Credential | null>(null);
  const [said, setSaid] = useState("");
  const remove = async () => {
    await api(`/api/credentials/${deleting!.id}`, { method: "DELETE" });
    setSaid(`Credential "${deleting!.name}" deleted.`);
    setDeleting(null);
    reload();
  };
  const items = list.state === "ok" ? list.value.items : [];
  return html`<section class="page-section" aria-labelledby="credentials-h">
    <h2 id="credentials-h" tabindex="-1">SSH credentials</h2>
    <p class="muted">How vxman logs in to machines for jobs. Keys and passwords are sealed at rest and never shown again.</p>
    <p class="status-line" role="status" aria-live="polite">${said}</p>
    ${list.state !== "ok"
      ? loadNotice(list, "credentials")
      : items.length
        ? html`<table class="list-table credentials-table">
            <thead><tr><th scope="col">Name</th><th scope="col">Kind</th><th scope="col">Fingerprint</th><th scope="col">Added</th><th scope="col">Last used</th><th scope="col"><span class="sr-only">Actions</span></th></tr></thead>
            <tbody>${items.map((c) => html`<tr key=${c.id} data-credential=${c.id}>
              <td data-label="Name"><span class="cell break">${c.name}</span></td>
              <td data-label="Kind">${c.kind === "ssh-key" ? `key (${c.algorithm ?? "?"})` : "password"}</td>
              <td data-label="Fingerprint"><span class="cell mono break">${c.fingerprint ?? "—"}</span></td>
              <td data-label="Added"><span class="cell"><${TimeAgo} iso=${c.created_at} now=${now} /> by ${c.created_by}</span></td>
              <td data-label="Last used"><${TimeAgo} iso=${c.last_used_at} now=${now} /></td>
              <td class="row-actions"><button type="button" class="danger small" aria-label=${`Delete ${c.name}`} onClick=${() => setDeleting(c)}>Delete</button></td>
            </tr>`)}</tbody>
          </table>`
        : html`<p class="muted">No credentials yet: jobs cannot log in anywhere.</p>`}
    <h3 id="new-credential-h">Add a credential</h3>
    <${NewCredential} onAdded=${(c: Credential) => {
      setSaid(`Credential "${c.name}" added${c.fingerprint ? ` (${c.fingerprint})` : ""}.`);
      reload();
    }} />
    <${SshDefaults} credentials=${items} />
    ${deleting
      ? html`<${Confirm} id="delete-credential" title=${`Delete the credential "${deleting.name}"?`} confirm="Delete" busy="Deleting…" onConfirm=${remove} onClose=${() => setDeleting(null)}>
          <p>Refused while a machine or an SSH default uses it.</p>
        </${Confirm}>`
      : null}
  </section>`;
}
