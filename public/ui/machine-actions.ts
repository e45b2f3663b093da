// What an operator does on a machine's page: check it now (and see the answer), and keep notes
// on it. Everyone reads the notes; only those who may change them see the controls.
import { useEffect, useRef, useState } from "preact/hooks";
import type { Machine } from "../../src/api/machines/model.ts";
import { api } from "../lib/api.ts";
import { formatRtt } from "../lib/format.ts";
import { Failure, Field, useAction, valueOf } from "./forms.ts";
import { html } from "./html.ts";

/** POST /api/machines/:id/check's answer. */
interface CheckResult {
  machine_id: number;
  is_alive: boolean;
  rtt_ms: number | null;
  outcome: string;
  detail: string | null;
  status: Machine["status"];
}

/** A check's result as a sentence: what the ping got, and where that leaves the machine. */
export function checkSentence(r: CheckResult): string {
  const got =
    r.outcome === "reply" ? `Answered in ${formatRtt(r.rtt_ms)}.`
    : r.outcome === "timeout" ? "No answer (timed out)."
    : r.outcome === "unreachable" ? `Unreachable${r.detail ? `: ${r.detail}` : ""}.`
    : `The check failed${r.detail ? `: ${r.detail}` : ""}.`;
  return `${got} Status: ${r.status}.`;
}

export function CheckNow({ machine }: { machine: Machine }) {
  const action = useAction();
  const [result, setResult] = useState<{ text: string; alive: boolean; at: string } | null>(null);
  useEffect(() => setResult(null), [machine.id]);
  const check = () =>
    action.run(async () => {
      const r = await api<CheckResult>(`/api/machines/${machine.id}/check`, { method: "POST" });
      setResult({ text: checkSentence(r), alive: r.is_alive, at: new Date().toLocaleTimeString() });
    });
  return html`<div class="check-now">
    <button type="button" aria-disabled=${action.busy} onClick=${check}>${action.busy ? "Checking…" : "Check now"}</button>
    <p class="check-result" role="status" aria-live="polite">
      ${result ? html`<span class=${result.alive ? "status-active" : "status-unreachable"}>${result.text}</span> <span class="muted">(${result.at})</span>` : null}
    </p>
    <${Failure} action=${action} />
  </div>`;
}

export function Notes({ machine, canEdit, onSaved }: { machine: Machine; canEdit: boolean; onSaved: (m: Machine) => void }) {
  const [draft, setDraft] = useState<string | null>(null);
  const action = useAction();
  const editing = draft !== null;
  const opened = useRef(false);
  useEffect(() => setDraft(null), [machine.id]);
  // Focus follows the switch: into the text when editing starts, back to its button after.
  useEffect(() => {
    if (editing || opened.current) document.getElementById(editing ? "notes" : "edit-notes")?.focus();
    opened.current ||= editing;
  }, [editing]);
  const save = action.onSubmit(async () => {
    onSaved(await api<Machine>(`/api/machines/${machine.id}`, { method: "PATCH", body: { notes: draft ?? "" } }));
    setDraft(null);
  });
  if (editing) {
    return html`<form class="notes-form" onSubmit=${save}>
      <${Field} id="notes" label="Notes" labelHidden=${true} hint="Up to 2,000 characters; everyone who can see this machine reads them." error=${action.about("notes")}>
        <textarea rows="5" maxlength="2000" value=${draft} onInput=${(e: Event) => setDraft(valueOf(e))} />
      </${Field}>
      <${Failure} action=${action} />
      <div class="actions">
        <button type="button" onClick=${() => setDraft(null)}>Cancel</button>
        <button type="submit" class="primary" aria-disabled=${action.busy}>${action.busy ? "Saving…" : "Save notes"}</button>
      </div>
    </form>`;
  }
  return html`<div class="notes">
    ${machine.notes ? html`<p class="notes-text break">${machine.notes}</p>` : html`<p class="muted">No notes.</p>`}
    ${canEdit ? html`<button type="button" id="edit-notes" onClick=${() => setDraft(machine.notes)}>Edit notes</button>` : null}
  </div>`;
}
