// Entries of the event log: when, what, on which machine, who did it and from where, and the
// details. A machine's page lists its own; the audit view lists everyone's.
import type { Event as LogEvent } from "../../src/api/events/model.ts";
import { localDateTime } from "../lib/format.ts";
import { machineHref } from "./bits.ts";
import { html } from "./html.ts";

interface ListProps {
  events: LogEvent[];
  /** Name the machine of each entry (the audit view; a machine's page need not). */
  showMachine?: boolean;
  /** When given, an actor's name is a button that calls this (the audit view's filter). */
  onActor?: (actor: string) => void;
}

function Actor({ event: e, onActor }: { event: LogEvent; onActor?: (actor: string) => void }) {
  const name = e.actor ?? "unknown";
  return html`<span class="actor">by ${onActor && e.actor
    ? html`<button type="button" class="link" title=${`Show only what ${name} did`} onClick=${() => onActor(name)}>${name}</button>`
    : html`<span class="actor-name">${name}</span>`}${e.actor_address ? html` from <span class="mono">${e.actor_address}</span>` : null}</span>`;
}

export function EventList({ events, showMachine = false, onActor }: ListProps) {
  return html`<ol class="events">
    ${events.map(
      (e) => html`<li key=${e.id} data-kind=${e.kind}>
        <div class="event-head">
          <time datetime=${e.at} title=${e.at}>${localDateTime(e.at)}</time>
          <strong class=${`kind kind-${e.kind}`}>${e.kind.replace("_", " ")}</strong>
          ${showMachine && e.machine_id !== null ? html`<a class="break" href=${machineHref(e.machine_id)}>${e.hostname ?? `machine ${e.machine_id}`}</a>` : null}
          <${Actor} event=${e} onActor=${onActor} />
        </div>
        ${Object.keys(e.details).length ? html`<pre class="details">${JSON.stringify(e.details, null, 2)}</pre>` : null}
      </li>`,
    )}
  </ol>`;
}
