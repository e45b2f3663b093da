// Users, for admins: who may log in and with which role; add one, change a role, disable or
// enable, reset a password. Nobody changes their own role or disables themselves (the server
// refuses: another admin or `vxman user` must), so one's own row offers neither.
import { useEffect, useState } from "preact/hooks";
import type { User } from "../../src/people/model.ts";
import { ROLES, type Role } from "../../src/people/roles.ts";
import { api } from "../lib/api.ts";
import { PASSWORD_RULES } from "./account.ts";
import { TimeAgo } from "./bits.ts";
import { Confirm, Modal } from "./dialogs.ts";
import { Failure, Field, useAction, valueOf } from "./forms.ts";
import { html } from "./html.ts";
import { loadNotice, useLoad } from "./load.ts";

const patchUser = (u: User, body: Partial<Pick<User, "role" | "disabled">> & { password?: string }) =>
  api<User>(`/api/users/${u.id}`, { method: "PATCH", body });

function AddUser({ onAdded }: { onAdded: (u: User) => void }) {
  const [form, setForm] = useState({ username: "", display_name: "", role: "viewer" as Role, password: "" });
  const action = useAction();
  const set = (key: keyof typeof form) => (e: Event) => setForm({ ...form, [key]: valueOf(e) });
  const submit = action.onSubmit(async () => {
    onAdded(await api<User>("/api/users", { method: "POST", body: { ...form, username: form.username.trim() } }));
    setForm({ username: "", display_name: "", role: "viewer", password: "" });
  });
  return html`<form class="form inline-form" onSubmit=${submit} aria-labelledby="add-user-h">
    <${Field} id="new-username" label="User name" error=${action.about("username")}>
      <input type="text" required maxlength="64" autocomplete="off" autocapitalize="none" spellcheck=${false} value=${form.username} onInput=${set("username")} />
    </${Field}>
    <${Field} id="new-display-name" label="Display name (optional)" error=${action.about("display_name")}>
      <input type="text" maxlength="100" autocomplete="off" value=${form.display_name} onInput=${set("display_name")} />
    </${Field}>
    <${Field} id="new-role" label="Role" error=${action.about("role")}>
      <select value=${form.role} onChange=${set("role")}>${ROLES.map((r) => html`<option value=${r}>${r}</option>`)}</select>
    </${Field}>
    <${Field} id="new-password" label="Password" hint=${PASSWORD_RULES} error=${action.about("password")}>
      <input type="password" required autocomplete="new-password" value=${form.password} onInput=${set("password")} />
    </${Field}>
    <div class="field submit"><button type="submit" class="primary" aria-disabled=${action.busy}>${action.busy ? "Adding…" : "Add user"}</button></div>
    <${Failure} action=${action} />
  </form>`;
}

function ResetPassword({ user, onClose, onDone }: { user: User; onClose: () => void; onDone: () => void }) {
  const [password, setPassword] = useState("");
  const action = useAction();
  const submit = action.onSubmit(async () => {
    await patchUser(user, { password });
    onDone();
  });
  return html`<${Modal} id="reset" title=${`Reset ${user.username}'s password`} onCancel=${onClose}>
    <form onSubmit=${submit}>
      <p>${user.username} is logged out everywhere; tell them the new password, and they can change it themselves.</p>
      <${Field} id="reset-password" label="New password" hint=${PASSWORD_RULES} error=${action.about("password")}>
        <input type="password" required autocomplete="new-password" data-autofocus value=${password} onInput=${(e: Event) => setPassword(valueOf(e))} />
      </${Field}>
      <${Failure} action=${action} />
      <div class="actions">
        <button type="button" onClick=${onClose}>Cancel</button>
        <button type="submit" class="danger" aria-disabled=${action.busy}>${action.busy ? "Resetting…" : "Reset password"}</button>
      </div>
    </form>
  </${Modal}>`;
}

interface RowProps {
  u: User;
  isMe: boolean;
  now: number;
  onChanged: (u: User, said: string) => void;
  onDisable: (u: User) => void;
  onReset: (u: User) => void;
}

function UserRow({ u, isMe, now, onChanged, onDisable, onReset }: RowProps) {
  const action = useAction();
  // A role is chosen, then saved: a keyboard's arrows change a <select> one step at a time.
  const [role, setRole] = useState(u.role);
  useEffect(() => setRole(u.role), [u.role]);
  const change = (body: { role?: Role; disabled?: boolean }, said: string) =>
    action.run(async () => onChanged(await patchUser(u, body), said));
  return html`<tr data-user=${u.username}>
    <td data-label="User"><strong class="break">${u.username}</strong>${isMe ? html` <span class="tag">you</span>` : null}</td>
    <td data-label="Display name" class="break">${u.display_name || html`<span class="muted">—</span>`}</td>
    <td data-label="Role">
      <select aria-label=${`Role of ${u.username}`} value=${role} disabled=${isMe} title=${isMe ? "Another admin (or vxman user on the server) can change your role" : undefined}
        onChange=${(e: Event) => setRole(valueOf(e) as Role)}>
        ${ROLES.map((r) => html`<option value=${r}>${r}</option>`)}
      </select>
      ${role !== u.role
        ? html`<button type="button" class="primary" aria-label=${`Make ${u.username} ${role}`} onClick=${() => change({ role }, `${u.username} is now ${role}.`)}>Save</button>`
        : null}
    </td>
    <td data-label="State"><span class=${`tag state-${u.disabled ? "disabled" : "active"}`}>${u.disabled ? "disabled" : "active"}</span></td>
    <td data-label="Last login"><${TimeAgo} iso=${u.last_login_at} now=${now} /></td>
    <td data-label="Actions" class="row-actions">
      ${isMe ? null
        : u.disabled ? html`<button type="button" aria-label=${`Enable ${u.username}`} onClick=${() => change({ disabled: false }, `${u.username} can log in again.`)}>Enable</button>`
        : html`<button type="button" aria-label=${`Disable ${u.username}`} onClick=${() => onDisable(u)}>Disable</button>`}
      <button type="button" aria-label=${`Reset the password of ${u.username}`} onClick=${() => onReset(u)}>Reset password</button>
      <${Failure} action=${action} />
    </td>
  </tr>`;
}

export function UsersPage({ me, now }: { me: number; now: number }) {
  const [users, reload] = useLoad<{ items: User[] }>("/api/users");
  const [said, setSaid] = useState("");
  const [disabling, setDisabling] = useState<User | null>(null);
  const [resetting, setResetting] = useState<User | null>(null);
  const changed = (_u: User, text: string) => {
    setSaid(text);
    reload();
  };
  const disable = async () => {
    changed(await patchUser(disabling!, { disabled: true }), `${disabling!.username} is disabled and logged out everywhere.`);
    setDisabling(null);
  };
  return html`<section class="page-section" aria-labelledby="users-h">
    <h2 id="users-h" tabindex="-1">Users</h2>
    <p class="status-line" role="status" aria-live="polite">${said}</p>
    ${users.state !== "ok"
      ? loadNotice(users, "users")
      : html`<table class="list-table users">
          <thead><tr><th scope="col">User</th><th scope="col">Display name</th><th scope="col">Role</th><th scope="col">State</th><th scope="col">Last login</th><th scope="col"><span class="sr-only">Actions</span></th></tr></thead>
          <tbody>${users.value.items.map((u) => html`<${UserRow} key=${u.id} u=${u} isMe=${u.id === me} now=${now} onChanged=${changed} onDisable=${setDisabling} onReset=${setResetting} />`)}</tbody>
        </table>`}
    <h3 id="add-user-h">Add a user</h3>
    <${AddUser} onAdded=${(u: User) => changed(u, `Added ${u.username} (${u.role}).`)} />
    ${disabling
      ? html`<${Confirm} id="disable" title=${`Disable ${disabling.username}?`} confirm="Disable" busy="Disabling…" onConfirm=${disable} onClose=${() => setDisabling(null)}>
          <p>They are logged out everywhere, cannot log in, and their API tokens stop working. You can enable them again later.</p>
        </${Confirm}>`
      : null}
    ${resetting
      ? html`<${ResetPassword} user=${resetting} onClose=${() => setResetting(null)} onDone=${() => {
          changed(resetting, `${resetting.username}'s password was reset; their sessions have ended.`);
          setResetting(null);
        }} />`
      : null}
  </section>`;
}
