// Modal dialogs on the native <dialog>: showModal() makes the rest of the page inert, keeps
// focus inside and turns Esc into "cancel". Focus starts on the safe choice and goes back to
// what opened the dialog (or, when that is gone, e.g. a deleted row, to the list heading).
import type { ComponentChildren } from "preact";
import { useLayoutEffect, useRef, useState } from "preact/hooks";
import type { Machine } from "../../src/api/machines/model.ts";
import { api, ApiFailure } from "../lib/api.ts";
import { roleOf, session } from "../lib/session.ts";
import { html } from "./html.ts";

function Modal({ title, onCancel, children, id }: { title: string; onCancel: () => void; children: ComponentChildren; id: string }) {
  const ref = useRef<HTMLDialogElement>(null);
  // A layout effect: the dialog is modal and focused before the browser paints it.
  useLayoutEffect(() => {
    const dialog = ref.current!;
    const opener = document.activeElement as HTMLElement | null;
    dialog.showModal();
    dialog.querySelector<HTMLElement>("[data-autofocus]")?.focus();
    return () => {
      if (dialog.open) dialog.close();
      // After the rest of this update is on the page: the opener may be leaving with it (the
      // row of a machine just deleted).
      setTimeout(() => {
        const back = opener?.isConnected ? opener : document.getElementById("machines-h") ?? document.getElementById("detail-h");
        back?.focus();
      }, 0);
    };
  }, []);
  return html`<dialog ref=${ref} class="dialog" aria-labelledby=${`${id}-title`}
      onCancel=${(e: Event) => {
        e.preventDefault();
        onCancel();
      }}>
    <h2 id=${`${id}-title`}>${title}</h2>
    ${children}
  </dialog>`;
}

export function ConfirmDelete({ machine, onClose, onDeleted }: { machine: Machine; onClose: () => void; onDeleted: (id: number) => void }) {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const confirm = async () => {
    if (busy) return;
    setBusy(true);
    setError(null);
    try {
      await api(`/api/machines/${machine.id}`, { method: "DELETE" });
      onDeleted(machine.id);
    } catch (err) {
      // 404: someone deleted it first; the goal is reached all the same.
      if (err instanceof ApiFailure && err.status === 404) onDeleted(machine.id);
      else setError((err as Error).message);
    } finally {
      setBusy(false);
    }
  };
  return html`<${Modal} id="delete" title="Delete this machine?" onCancel=${onClose}>
    <dl class="facts">
      <dt>Hostname</dt><dd>${machine.hostname}</dd>
      <dt>IP address</dt><dd class="mono">${machine.ip_address}</dd>
      <dt>MAC</dt><dd class="mono">${machine.mac_address}</dd>
    </dl>
    <p>Monitoring stops and the machine leaves every dashboard; its full record stays in the event log. If it registers again, it comes back.</p>
    ${error ? html`<p class="error" role="alert">${error}</p>` : null}
    <div class="actions">
      <button type="button" data-autofocus onClick=${onClose}>Cancel</button>
      <button type="button" class="danger" aria-disabled=${busy} onClick=${confirm}>${busy ? "Deleting…" : "Delete"}</button>
    </div>
  </${Modal}>`;
}

export function LoginDialog({ onClose }: { onClose: () => void }) {
  const [token, setToken] = useState("");
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const submit = async (e: Event) => {
    e.preventDefault();
    if (busy) return;
    const value = token.trim();
    if (!value) return setError("Enter the token.");
    setBusy(true);
    setError(null);
    try {
      const role = await roleOf(value);
      if (role === "anonymous") {
        setError("The server did not accept this token. Use ADMIN_TOKEN (or READ_TOKEN for viewing only).");
        return;
      }
      session.logIn(value, role);
      onClose();
    } catch {
      setError("Cannot reach the vxman server (network error); try again.");
    } finally {
      setBusy(false);
    }
  };
  return html`<${Modal} id="login" title="Log in" onCancel=${onClose}>
    <form onSubmit=${submit}>
      <p>Paste the admin token: the ADMIN_TOKEN the server was started with, or the one it printed in its log
        on the first start. It stays in this browser tab only, and is sent as a Bearer token.</p>
      <label class="field">
        <span class="label">Token</span>
        <input type="password" data-autofocus autocomplete="off" value=${token}
          onInput=${(e: Event) => setToken((e.target as HTMLInputElement).value)} />
      </label>
      ${error ? html`<p class="error" role="alert">${error}</p>` : null}
      <div class="actions">
        <button type="button" onClick=${onClose}>Cancel</button>
        <button type="submit" class="primary" aria-disabled=${busy}>${busy ? "Checking…" : "Log in"}</button>
      </div>
    </form>
  </${Modal}>`;
}
