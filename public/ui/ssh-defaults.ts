// SSH defaults by label, for admins: which user, port and credential the machines carrying all
// of some labels log in with (no labels: every machine). Per setting, a machine's own value wins,
// then the default with the most labels. Shown on the credentials page.
import { useState } from "preact/hooks";
import { isLabel } from "../../src/outages/groups.ts";
import { api } from "../lib/api.ts";
import type { Credential, SshDefault } from "../lib/jobs.ts";
import { Confirm } from "./dialogs.ts";
import { Failure, Field, useAction, valueOf } from "./forms.ts";
import { html } from "./html.ts";
import { LabelChips } from "./labels.ts";
import { loadNotice, useLoad } from "./load.ts";
import { listOf } from "./silence-form.ts";

/** A credential by id, as its name where the list has it. */
export const credentialName = (id: number | null, credentials: Credential[]) =>
  id === null ? null : (credentials.find((c) => c.id === id)?.name ?? `credential ${id}`);

/** A credential chooser: "none" (or what `none` says) and each credential by name. */
export function CredentialSelect({ value, credentials, none, onChange, ...field }: {
  value: number | null; credentials: Credential[]; none: string; onChange: (id: number | null) => void }) {
  return html`<select ...${field} value=${value === null ? "" : String(value)} onChange=${(e: Event) => onChange(valueOf(e) ? Number(valueOf(e)) : null)}>
    <option value="">${none}</option>
    ${credentials.map((c) => html`<option value=${String(c.id)}>${c.name}</option>`)}
  </select>`;
}

function NewDefault({ credentials, onAdded }: { credentials: Credential[]; onAdded: () => void }) {
  const [form, setForm] = useState({ labels: "", user: "", port: "", credential: null as number | null });
  const [problem, setProblem] = useState<string | undefined>();
  const action = useAction();
  const add = action.onSubmit(async () => {
    const labels = listOf(form.labels);
    const bad = labels.filter((l) => !isLabel(l));
    setProblem(bad.length ? `Not key=value: ${bad.join(", ")}.` : undefined);
    if (bad.length) return;
    const body = {
      labels,
      ...(form.user.trim() ? { user: form.user.trim() } : {}),
      ...(form.port ? { port: Number(form.port) } : {}),
      ...(form.credential !== null ? { credential_id: form.credential } : {}),
    };
    await api("/api/ssh-defaults", { method: "POST", body });
    setForm({ labels: "", user: "", port: "", credential: null });
    onAdded();
  });
  return html`<form class="form inline-form" onSubmit=${add} aria-labelledby="new-default-h">
    <${Field} id="default-labels" label="Labels" hint="key=value, separated by commas; empty: every machine" error=${problem ?? action.about("labels")}>
      <input type="text" autocomplete="off" spellcheck=${false} value=${form.labels} onInput=${(e: Event) => setForm({ ...form, labels: valueOf(e) })} />
    </${Field}>
    <${Field} id="default-user" label="User" error=${action.about("user")}>
      <input type="text" autocomplete="off" spellcheck=${false} value=${form.user} onInput=${(e: Event) => setForm({ ...form, user: valueOf(e) })} />
    </${Field}>
    <${Field} id="default-port" label="Port" error=${action.about("port")}>
      <input type="number" min="1" max="65535" value=${form.port} onInput=${(e: Event) => setForm({ ...form, port: valueOf(e) })} />
    </${Field}>
    <${Field} id="default-credential" label="Credential" error=${action.about("credential_id")}>
      <${CredentialSelect} value=${form.credential} credentials=${credentials} none="(not set here)" onChange=${(id: number | null) => setForm({ ...form, credential: id })} />
    </${Field}>
    <div class="field submit"><button type="submit" class="primary" aria-disabled=${action.busy}>${action.busy ? "Adding…" : "Add default"}</button></div>
    <${Failure} action=${action} fields=${["labels", "user", "port", "credential_id"]} />
  </form>`;
}

export function SshDefaults({ credentials }: { credentials: Credential[] }) {
  const [list, reload] = useLoad<{ items: SshDefault[] }>("/api/ssh-defaults");
  const [deleting, setDeleting] = useState<SshDefault | null>(null);
  const remove = async () => {
    await api(`/api/ssh-defaults/${deleting!.id}`, { method: "DELETE" });
    setDeleting(null);
    reload();
  };
  const set = (v: unknown) => (v === null ? html`<span class="muted">—</span>` : String(v));
  return html`<h3>SSH defaults by label</h3>
    <p class="muted">For the machines that carry all the labels of a rule. Per setting, a machine's own value wins, then the rule with the most labels.</p>
    ${list.state !== "ok"
      ? loadNotice(list, "SSH defaults")
      : list.value.items.length
        ? html`<table class="list-table defaults-table">
            <thead><tr><th scope="col">Machines with</th><th scope="col">User</th><th scope="col">Port</th><th scope="col">Credential</th><th scope="col"><span class="sr-only">Actions</span></th></tr></thead>
            <tbody>${list.value.items.map((d) => html`<tr key=${d.id} data-default=${d.id}>
              <td data-label="Machines with">${d.labels.length ? html`<${LabelChips} labels=${d.labels} />` : "every machine"}</td>
              <td data-label="User" class="mono">${set(d.user)}</td>
              <td data-label="Port">${set(d.port)}</td>
              <td data-label="Credential"><span class="cell break">${set(credentialName(d.credential_id, credentials))}</span></td>
              <td class="row-actions"><button type="button" class="danger small" aria-label=${`Delete SSH default ${d.id}`} onClick=${() => setDeleting(d)}>Delete</button></td>
            </tr>`)}</tbody>
          </table>`
        : html`<p class="muted">No defaults: each machine needs its own settings.</p>`}
    <h4 id="new-default-h">Add a default</h4>
    <${NewDefault} credentials=${credentials} onAdded=${reload} />
    ${deleting
      ? html`<${Confirm} id="delete-default" title="Delete these SSH defaults?" confirm="Delete" busy="Deleting…" onConfirm=${remove} onClose=${() => setDeleting(null)}>
          <p>Machines that took a setting from it fall back to the next rule, or to nothing.</p>
        </${Confirm}>`
      : null}`;
}
