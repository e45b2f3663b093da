// Modal dialogs on the native <dialog>: showModal() makes the rest of the page inert, keeps
// focus inside and turns Esc into "cancel". Focus starts on the safe choice and goes back to
// what opened the dialog (or, when that is gone, e.g. a deleted row, to the page's heading).
import type { ComponentChildren } from "preact";
import { useLayoutEffect, useRef } from "preact/hooks";
import type { Machine } from "../../src/api/machines/model.ts";
import { api, ApiFailure } from "../lib/api.ts";
import { Failure, useAction } from "./forms.ts";
import { html } from "./html.ts";

export function Modal({ title, onCancel, children, id }: { title: string; onCancel: () => void; children: ComponentChildren; id: string }) {
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
        const back = opener?.isConnected ? opener : document.querySelector<HTMLElement>("main h2[tabindex]");
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

export interface ConfirmProps {
  id: string;
  title: string;
  /** The button that does it ("Delete", "Disable"…), and its words while it runs. */
  confirm: string;
  busy: string;
  /** Does it; a throw is shown in the dialog, which stays open. */
  onConfirm: () => Promise<void>;
  onClose: () => void;
  children: ComponentChildren;
}

/** "Are you sure?", starting on Cancel. */
export function Confirm({ id, title, confirm, busy, onConfirm, onClose, children }: ConfirmProps) {
  const action = useAction();
  return html`<${Modal} id=${id} title=${title} onCancel=${onClose}>
    ${children}
    <${Failure} action=${action} />
    <div class="actions">
      <button type="button" data-autofocus onClick=${onClose}>Cancel</button>
      <button type="button" class="danger" aria-disabled=${action.busy} onClick=${() => action.run(onConfirm)}>${action.busy ? busy : confirm}</button>
    </div>
  </${Modal}>`;
}

export function ConfirmDelete({ machine, onClose, onDeleted }: { machine: Machine; onClose: () => void; onDeleted: (id: number) => void }) {
  const remove = async () => {
    try {
      await api(`/api/machines/${machine.id}`, { method: "DELETE" });
    } catch (err) {
      // 404: someone deleted it first; the goal is reached all the same.
      if (!(err instanceof ApiFailure && err.status === 404)) throw err;
    }
    onDeleted(machine.id);
  };
  return html`<${Confirm} id="delete" title="Delete this machine?" confirm="Delete" busy="Deleting…" onConfirm=${remove} onClose=${onClose}>
    <dl class="facts">
      <dt>Hostname</dt><dd>${machine.hostname}</dd>
      <dt>IP address</dt><dd class="mono">${machine.ip_address}</dd>
      <dt>MAC</dt><dd class="mono">${machine.mac_address}</dd>
    </dl>
    <p>Monitoring stops and the machine leaves every dashboard; its full record stays in the event log. If it registers again, it comes back.</p>
  </${Confirm}>`;
}
