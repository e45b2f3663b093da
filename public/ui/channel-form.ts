// Adding or changing a notification channel: its kind's settings (KINDS), which events it hears,
// which machines (a filter by labels and groups), whether it is on, and how many messages a
// minute at most. The server checks every field; its word is shown beside the field it names.
import { useState } from "preact/hooks";
import { api } from "../lib/api.ts";
import type { Channel } from "../lib/outages.ts";
import { draftOf, type HeaderRow, isSet, KINDS, newWebhookSecret, type SettingSpec, type SettingsDraft, settingsBody } from "./channel-kinds.ts";
import { Failure, Field, useAction, valueOf } from "./forms.ts";
import { html } from "./html.ts";

// Spelt out here (the server's CHANNEL_EVENTS lives in a module that pulls Elysia into the bundle).
export const EVENTS = [
  ["unreachable", "Unreachable"], ["recovered", "Recovered"], ["registered", "Registered"], ["deleted", "Deleted"], ["mac_changed", "MAC changed"],
] as const;

const listOf = (text: string) => text.split(",").map((s) => s.trim()).filter(Boolean);
const SECRET_KEPT = "set — leave empty to keep";

interface SettingProps {
  spec: SettingSpec;
  draft: SettingsDraft;
  saved?: Channel["settings"];
  error?: string;
  onChange: (d: SettingsDraft) => void;
}

function HeadersEditor({ draft, onChange }: Pick<SettingProps, "draft" | "onChange">) {
  const rows = draft.headers;
  const put = (i: number, row: Partial<HeaderRow>) => onChange({ ...draft, headers: rows.map((r, j) => (i === j ? { ...r, ...row } : r)) });
  return html`<div class="headers-editor">
    ${rows.map((r, i) => html`<div class="header-row" key=${i}>
      ${r.stored
        ? html`<span class="mono header-name break">${r.name}</span>`
        : html`<input type="text" class="mono" aria-label=${`Header ${i + 1} name`} placeholder="Authorization" autocomplete="off" spellcheck=${false} value=${r.name}
            onInput=${(e: Event) => put(i, { name: valueOf(e) })} />`}
      <input type="password" aria-label=${`Value of ${r.name || `header ${i + 1}`}`} autocomplete="new-password" disabled=${r.removed}
        placeholder=${r.stored ? SECRET_KEPT : "value"} value=${r.value} onInput=${(e: Event) => put(i, { value: valueOf(e) })} />
      <button type="button" aria-label=${`${r.removed ? "Keep" : "Remove"} header ${r.name || i + 1}`}
        onClick=${() => (r.stored ? put(i, { removed: !r.removed }) : onChange({ ...draft, headers: rows.filter((_, j) => j !== i) }))}>${r.removed ? "Keep" : "Remove"}</button>
    </div>`)}
    <button type="button" onClick=${() => onChange({ ...draft, headers: [...rows, { name: "", value: "", stored: false, removed: false }] })}>Add a header</button>
  </div>`;
}

function Setting({ spec, draft, saved, error, onChange }: SettingProps) {
  // A secret made here is shown once, to hand to the receiver; one typed in never is.
  const [generated, setGenerated] = useState<string | null>(null);
  const id = `channel-${spec.key}`;
  const value = draft.values[spec.key] ?? "";
  const set = (v: string) => onChange({ ...draft, values: { ...draft.values, [spec.key]: v } });
  const onInput = (e: Event) => set(valueOf(e));
  if (spec.type === "headers") {
    return html`<fieldset class="subfields"><legend>${spec.label}</legend>
      ${spec.hint ? html`<p class="hint">${spec.hint}</p>` : null}
      <${HeadersEditor} draft=${draft} onChange=${onChange} />
      ${error ? html`<span class="field-error" role="alert">${error}</span>` : null}
    </fieldset>`;
  }
  if (spec.type === "secret") {
    const generate = () => {
      const secret = newWebhookSecret();
      setGenerated(secret);
      set(secret);
    };
    const stored = isSet(saved?.[spec.key]);
    const clearing = !!draft.clear[spec.key];
    const hint = [stored ? `Set — leave empty to keep it.` : "", spec.hint ?? ""].filter(Boolean).join(" ");
    return html`<div class="secret-field">
      <${Field} id=${id} label=${spec.label} hint=${hint || undefined} error=${error}>
        <input type="password" autocomplete="new-password" spellcheck=${false} required=${spec.required && !stored} disabled=${clearing}
          placeholder=${stored ? SECRET_KEPT : ""} value=${value} onInput=${onInput} />
      </${Field}>
      ${spec.key === "secret" && !stored ? html`<button type="button" class="generate" onClick=${generate}>Generate a secret</button>` : null}
      ${spec.key === "secret" && generated === value ? html`<p class="hint">Give the receiver this secret now (it is not shown again): <code class="break">${value}</code></p>` : null}
      ${stored && !spec.required
        ? html`<label class="check"><input type="checkbox" checked=${clearing}
            onChange=${(e: Event) => onChange({ ...draft, clear: { ...draft.clear, [spec.key]: (e.target as HTMLInputElement).checked } })} /> Remove the saved ${spec.label.replace(/ \(optional\)$/, "").toLowerCase()}</label>`
        : null}
    </div>`;
  }
  const control =
    spec.type === "select" ? html`<select value=${value} onChange=${onInput}>${spec.options!.map(([v, words]) => html`<option value=${v}>${words}</option>`)}</select>`
    : spec.type === "list" || spec.type === "pem" ? html`<textarea rows=${spec.type === "pem" ? 4 : 2} class=${spec.type === "pem" ? "mono" : ""} spellcheck=${false} value=${value} onInput=${onInput} />`
    : html`<input type=${spec.type === "number" ? "number" : spec.type === "url" ? "url" : "text"} autocomplete="off" autocapitalize="none" spellcheck=${false}
        required=${spec.required} placeholder=${spec.placeholder ?? ""} value=${value} onInput=${onInput} />`;
  return html`<${Field} id=${id} label=${spec.label} hint=${spec.hint} error=${error}>${control}</${Field}>`;
}

interface FormProps {
  /** The channel to change; a new one when absent. */
  channel?: Channel;
  onSaved: (c: Channel, said: string) => void;
  onCancel: () => void;
}

export function ChannelForm({ channel, onSaved, onCancel }: FormProps) {
  const [kind, setKind] = useState(channel?.kind ?? "webhook");
  const [name, setName] = useState(channel?.name ?? "");
  const [draft, setDraft] = useState<SettingsDraft>(() => draftOf(channel?.kind ?? "webhook", channel?.settings));
  const [events, setEvents] = useState<string[]>(channel?.events ?? ["unreachable", "recovered"]);
  const filter = (channel?.filter ?? {}) as { labels?: string[]; groups?: string[] };
  const [labels, setLabels] = useState((filter.labels ?? []).join(", "));
  const [groups, setGroups] = useState((filter.groups ?? []).join(", "));
  const [enabled, setEnabled] = useState(channel?.enabled ?? true);
  const [perMinute, setPerMinute] = useState(String(channel?.max_per_minute ?? 20));
  const action = useAction();
  const spec = KINDS[kind]!;
  const fields = ["name", "kind", "events", "filter.labels", "filter.groups", "enabled", "max_per_minute", ...spec.settings.map((s) => `settings.${s.key}`)];

  const pickKind = (k: string) => {
    setKind(k);
    setDraft(draftOf(k));
    action.clear();
  };
  const toggle = (event: string, on: boolean) => setEvents(on ? [...events, event] : events.filter((e) => e !== event));
  const submit = action.onSubmit(async () => {
    const body: Record<string, unknown> = {
      name: name.trim(),
      settings: settingsBody(kind, draft, channel?.settings),
      events: EVENTS.map(([e]) => e).filter((e) => events.includes(e)),
      filter: { labels: listOf(labels), groups: listOf(groups) },
      enabled,
      max_per_minute: /^\d+$/.test(perMinute.trim()) ? Number(perMinute) : perMinute,
    };
    if (channel) onSaved(await api<Channel>(`/api/channels/${channel.id}`, { method: "PATCH", body }), `Channel "${name.trim()}" saved.`);
    else onSaved(await api<Channel>("/api/channels", { method: "POST", body: { ...body, kind } }), `Channel "${name.trim()}" added.`);
  });

  const heading = channel ? `Change channel ${channel.name}` : "New channel";
  return html`<form class="form channel-form" onSubmit=${submit} aria-label=${heading}>
    ${channel ? html`<h4 class="form-title break">${heading}</h4>` : null}
    <${Field} id="channel-name" label="Name" error=${action.about("name")}>
      <input type="text" required maxlength="100" autocomplete="off" value=${name} onInput=${(e: Event) => setName(valueOf(e))} />
    </${Field}>
    <${Field} id="channel-kind" label="Kind" hint=${channel ? "A channel's kind stays; add a new channel for another." : undefined} error=${action.about("kind")}>
      <select value=${kind} disabled=${!!channel} onChange=${(e: Event) => pickKind(valueOf(e))}>
        ${Object.entries(KINDS).map(([k, s]) => html`<option value=${k}>${s.label}</option>`)}
      </select>
    </${Field}>
    <fieldset class="subfields" data-kind=${kind}>
      <legend>${spec.label} settings</legend>
      ${spec.settings.map((s) => html`<${Setting} key=${`${kind}.${s.key}`} spec=${s} draft=${draft} saved=${channel?.settings}
        error=${action.about(`settings.${s.key}`)} onChange=${setDraft} />`)}
    </fieldset>
    <fieldset class="subfields">
      <legend>Tell it about</legend>
      <div class="choices">${EVENTS.map(([e, words]) => html`<label class="check"><input type="checkbox" checked=${events.includes(e)}
        onChange=${(ev: Event) => toggle(e, (ev.target as HTMLInputElement).checked)} /> ${words}</label>`)}</div>
      ${action.about("events") ? html`<span class="field-error" role="alert">${action.about("events")}</span>` : null}
      <${Field} id="channel-labels" label="Only machines with these labels" hint="key=value, separated by commas; empty: any machine" error=${action.about("filter.labels")}>
        <input type="text" autocomplete="off" autocapitalize="none" spellcheck=${false} value=${labels} onInput=${(e: Event) => setLabels(valueOf(e))} />
      </${Field}>
      <${Field} id="channel-groups" label="Only machines in these groups" hint="e.g. vni 4096, subnet 198.18.0.0/24; empty: any group" error=${action.about("filter.groups")}>
        <input type="text" autocomplete="off" spellcheck=${false} value=${groups} onInput=${(e: Event) => setGroups(valueOf(e))} />
      </${Field}>
    </fieldset>
    <label class="check"><input type="checkbox" checked=${enabled} onChange=${(e: Event) => setEnabled((e.target as HTMLInputElement).checked)} /> Enabled</label>
    <${Field} id="channel-rate" label="At most this many messages a minute" error=${action.about("max_per_minute")}>
      <input type="number" min="1" max="10000" required value=${perMinute} onInput=${(e: Event) => setPerMinute(valueOf(e))} />
    </${Field}>
    <${Failure} action=${action} fields=${fields} />
    <div class="actions start">
      <button type="button" onClick=${onCancel}>Cancel</button>
      <button type="submit" class="primary" aria-disabled=${action.busy}>${action.busy ? "Saving…" : channel ? "Save channel" : "Add channel"}</button>
    </div>
  </form>`;
}
