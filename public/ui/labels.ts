// A machine's labels (key=value): chips in the list and on its page, where operators and admins
// add and remove them. Each change is saved at once (PATCH replaces the whole list, starting from
// the live copy of the machine), and the server's word on a bad label is shown at the field.
import { useState } from "preact/hooks";
import type { Machine } from "../../src/api/machines/model.ts";
import { isLabel, MAX_LABELS } from "../../src/outages/groups.ts";
import { api } from "../lib/api.ts";
import { listHref } from "../lib/route.ts";
import { Failure, Field, useAction, valueOf } from "./forms.ts";
import { html } from "./html.ts";

export const LABEL_RULE = "key=value: a key of letters, digits and _ . - / (starting with a letter or digit, at most 63), a value of at most 128 characters without commas";

/** Chips, for the list: at most `max` of them and "+N" for the rest, all of them on hover. */
export function LabelChips({ labels, max = labels.length }: { labels: string[]; max?: number }) {
  if (!labels.length) return null;
  const shown = labels.slice(0, max);
  return html`<span class="chips" title=${labels.join(", ")}>
    ${shown.map((l) => html`<span class="chip">${l}</span>`)}
    ${labels.length > shown.length ? html`<span class="chip more">+${labels.length - shown.length}</span>` : null}
  </span>`;
}

/** Why `text` cannot be added to `labels`, or null when it can. */
export function labelProblem(text: string, labels: string[]): string | null {
  if (!isLabel(text)) return `Write it as ${LABEL_RULE}.`;
  const key = text.slice(0, text.indexOf("="));
  if (labels.length >= MAX_LABELS && !labels.some((l) => l.startsWith(`${key}=`))) return `A machine has at most ${MAX_LABELS} labels.`;
  return null;
}

export function MachineLabels({ machine, canEdit, onSaved }: { machine: Machine; canEdit: boolean; onSaved: (m: Machine) => void }) {
  const [draft, setDraft] = useState("");
  const [problem, setProblem] = useState<string | null>(null);
  const action = useAction();
  const save = (labels: string[]) => api<Machine>(`/api/machines/${machine.id}`, { method: "PATCH", body: { labels } });
  const add = action.onSubmit(async () => {
    const text = draft.trim();
    const why = labelProblem(text, machine.labels);
    setProblem(why);
    if (why) return;
    // A key given again replaces its value (the server keeps the last of a key).
    const key = text.slice(0, text.indexOf("=") + 1);
    onSaved(await save([...machine.labels.filter((l) => !l.startsWith(key)), text]));
    setDraft("");
  });
  const remove = (label: string) =>
    action.run(async () => {
      setProblem(null);
      onSaved(await save(machine.labels.filter((l) => l !== label)));
    });
  return html`<div class="labels">
    ${machine.labels.length
      ? html`<ul class="chips chip-list" aria-label="Labels">
          ${machine.labels.map((l) => html`<li class="chip" key=${l}>
            <a href=${listHref({ label: l })} title=${`Machines labelled ${l}`}>${l}</a>
            ${canEdit ? html`<button type="button" class="chip-remove" aria-label=${`Remove label ${l}`} aria-disabled=${action.busy} onClick=${() => remove(l)}>×</button>` : null}
          </li>`)}
        </ul>`
      : html`<p class="muted">No labels.</p>`}
    ${canEdit
      ? html`<form class="form inline-form label-form" onSubmit=${add}>
          <${Field} id="new-label" label="Add a label" hint="key=value, e.g. role=db; a key given again replaces its value." error=${problem ?? action.about("labels")}>
            <input type="text" autocomplete="off" autocapitalize="none" spellcheck=${false} maxlength="192" placeholder="role=db" value=${draft}
              onInput=${(e: Event) => setDraft(valueOf(e))} />
          </${Field}>
          <div class="field submit"><button type="submit" aria-disabled=${action.busy}>${action.busy ? "Saving…" : "Add label"}</button></div>
          <${Failure} action=${action} fields=${["labels"]} />
        </form>`
      : null}
  </div>`;
}
