// Form pieces: a labelled field that carries the server's word about it, and the busy and
// failed states of an action (a submit, a button).
import { cloneElement, type VNode } from "preact";
import { useRef, useState } from "preact/hooks";
import { ApiFailure } from "../lib/api.ts";
import { html } from "./html.ts";

interface FieldProps {
  id: string;
  label: string;
  /** For screen readers only, when a heading right above already says it. */
  labelHidden?: boolean;
  hint?: string;
  error?: string;
  children: VNode;
}

/** A label, the control (given as the only child: it gets the id and the ARIA links), a hint
 *  and the error for this field. */
export function Field({ id, label, labelHidden = false, hint, error, children }: FieldProps) {
  const describedBy = [hint ? `${id}-hint` : "", error ? `${id}-error` : ""].filter(Boolean).join(" ") || undefined;
  return html`<div class="field">
    <label class=${labelHidden ? "sr-only" : "label"} for=${id}>${label}</label>
    ${cloneElement(children, { id, "aria-invalid": error ? "true" : undefined, "aria-describedby": describedBy })}
    ${hint ? html`<span class="hint" id=${`${id}-hint`}>${hint}</span>` : null}
    ${error ? html`<span class="field-error" id=${`${id}-error`} role="alert">${error}</span>` : null}
  </div>`;
}

export interface Action {
  busy: boolean;
  failure: Error | null;
  /** Runs `work` unless it is already running; a throw becomes `failure`. */
  run(work: () => Promise<void>): Promise<void>;
  /** A form's submit handler that runs `work` (and keeps the browser from loading a page). */
  onSubmit(work: () => Promise<void>): (e: Event) => void;
  /** The server's word on one field, when the failure named it (a 422). */
  about(field: string): string | undefined;
  clear(): void;
}

export function useAction(): Action {
  const [busy, setBusy] = useState(false);
  const [failure, setFailure] = useState<Error | null>(null);
  // A ref as well as the state: a double click lands before the re-render that disables.
  const running = useRef(false);
  const run = async (work: () => Promise<void>) => {
    if (running.current) return;
    running.current = true;
    setBusy(true);
    setFailure(null);
    try {
      await work();
    } catch (err) {
      setFailure(err as Error);
    } finally {
      running.current = false;
      setBusy(false);
    }
  };
  return {
    busy,
    failure,
    run,
    onSubmit: (work) => (e) => {
      e.preventDefault();
      void run(work);
    },
    about: (field) => (failure instanceof ApiFailure ? failure.about(field) : undefined),
    clear: () => setFailure(null),
  };
}

/** An action's failure as an alert, unless the server named the fields (shown beside them).
 *  Given the `fields` a form shows, what the server said about any other field is shown here,
 *  so no word of a 422 goes unseen. */
export function Failure({ action, fields }: { action: Action; fields?: readonly string[] }) {
  const f = action.failure;
  if (!f) return null;
  if (!(f instanceof ApiFailure) || f.details.length === 0) return html`<p class="error" role="alert">${f.message}</p>`;
  if (!fields) return null;
  const elsewhere = f.besides(fields);
  return elsewhere.length ? html`<p class="error" role="alert">${elsewhere.map((d) => `${d.field}: ${d.message}`).join("; ")}</p>` : null;
}

/** The value of the input an event came from. */
export const valueOf = (e: Event) => (e.target as HTMLInputElement | HTMLSelectElement | HTMLTextAreaElement).value;
