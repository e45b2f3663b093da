// The audit view, for admins: the whole event log, newest first, with who did what from where;
// filtered by who and by kind, and paged back with "Older events".
import { useState } from "preact/hooks";
import type { Event as LogEvent, EventKind } from "../../src/api/events/model.ts";
import { api } from "../lib/api.ts";
import { EventList } from "./events.ts";
import { Failure, Field, useAction, valueOf } from "./forms.ts";
import { html } from "./html.ts";
import { loadNotice, useLoad } from "./load.ts";

// Spelt out here: the server's list lives in a module that pulls Elysia into the bundle. The
// two checks below fail the type check when the lists drift apart.
const KINDS = [
  "registered", "updated", "unreachable", "recovered", "deleted", "notes_changed", "labels_changed", "silence_created", "silence_expired",
  "user_created", "user_changed", "password_changed", "token_created", "token_revoked", "sessions_revoked",
  "channel_created", "channel_changed", "channel_deleted",
  "ssh_settings_changed", "host_key_changed", "host_key_accepted", "job_created", "job_changed", "job_deleted",
  "run_started", "run_cancelled", "run_failed", "credential_created", "credential_deleted", "ssh_defaults_changed",
] as const satisfies readonly EventKind[];
const everyKindListed: Exclude<EventKind, (typeof KINDS)[number]> extends never ? true : false = true;
void everyKindListed;

const PAGE = 100;

interface Filter {
  actor: string;
  kind: EventKind | "";
}

function query(f: Filter, before?: number): string {
  const q = new URLSearchParams({ limit: String(PAGE) });
  if (f.actor.trim()) q.set("actor", f.actor.trim());
  if (f.kind) q.set("kind", f.kind);
  if (before !== undefined) q.set("before", String(before));
  return `/api/events?${q}`;
}

function FilterForm({ filter, onApply }: { filter: Filter; onApply: (f: Filter) => void }) {
  const [draft, setDraft] = useState(filter);
  const submit = (e: Event) => {
    e.preventDefault();
    onApply(draft);
  };
  return html`<form class="form inline-form" role="search" aria-label="Filter the audit log" onSubmit=${submit}>
    <${Field} id="audit-actor" label="Who" hint="Exactly as listed: alice, alice (token ci), admin-token, monitor…">
      <input type="search" autocomplete="off" spellcheck=${false} value=${draft.actor} onInput=${(e: Event) => setDraft({ ...draft, actor: valueOf(e) })} />
    </${Field}>
    <${Field} id="audit-kind" label="Kind">
      <select value=${draft.kind} onChange=${(e: Event) => setDraft({ ...draft, kind: valueOf(e) as Filter["kind"] })}>
        <option value="">All kinds</option>
        ${KINDS.map((k) => html`<option value=${k}>${k.replace("_", " ")}</option>`)}
      </select>
    </${Field}>
    <div class="field submit"><button type="submit" class="primary">Filter</button></div>
  </form>`;
}

export function AuditPage() {
  const [filter, setFilter] = useState<Filter>({ actor: "", kind: "" });
  const [first] = useLoad<{ items: LogEvent[] }>(query(filter));
  // Older pages, appended below the first; a new filter starts over.
  const [older, setOlder] = useState<{ path: string; items: LogEvent[]; done: boolean }>({ path: "", items: [], done: false });
  const more = useAction();
  const path = query(filter);
  const extra = older.path === path ? older : { path, items: [], done: false };
  const shown = first.state === "ok" ? [...first.value.items, ...extra.items] : [];
  const apply = (f: Filter) => setFilter(f);
  const loadOlder = () =>
    more.run(async () => {
      const { items } = await api<{ items: LogEvent[] }>(query(filter, shown.at(-1)!.id));
      setOlder({ path, items: [...extra.items, ...items], done: items.length < PAGE });
    });
  const mayHaveMore = first.state === "ok" && first.value.items.length === PAGE && !extra.done;
  return html`<section class="page-section" aria-labelledby="audit-h">
    <h2 id="audit-h" tabindex="-1">Audit log</h2>
    <${FilterForm} key=${`${filter.actor}|${filter.kind}`} filter=${filter} onApply=${apply} />
    ${first.state !== "ok"
      ? loadNotice(first, "events")
      : html`<p class="shown muted" aria-live="polite">${shown.length ? `${shown.length} events, newest first` : "No events match."}</p>
          <${EventList} events=${shown} showMachine=${true} onActor=${(actor: string) => apply({ ...filter, actor })} />
          ${mayHaveMore ? html`<button type="button" class="more" aria-disabled=${more.busy} onClick=${loadOlder}>${more.busy ? "Loading…" : "Older events"}</button>` : null}
          <${Failure} action=${more} />`}
  </section>`;
}
