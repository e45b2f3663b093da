// A new silence: which machines (by name or id, by labels, by groups), for how long (a duration,
// until a time, or a cron schedule in a time zone), and why. What the server refuses is shown at
// the field it names (schedule.cron, schedule.timezone…).
import { useMemo, useState } from "preact/hooks";
import type { Machine } from "../../src/api/machines/model.ts";
import { isLabel } from "../../src/outages/groups.ts";
import { api } from "../lib/api.ts";
import type { Silence } from "../lib/outages.ts";
import type { MachineStore } from "../lib/store.ts";
import { labelsAndGroups } from "../lib/view.ts";
import { Failure, Field, useAction, valueOf } from "./forms.ts";
import { html } from "./html.ts";

export const DURATIONS: [number, string][] = [
  [900, "15 minutes"], [1800, "30 minutes"], [3600, "1 hour"], [7200, "2 hours"], [14_400, "4 hours"], [28_800, "8 hours"],
  [43_200, "12 hours"], [86_400, "1 day"], [259_200, "3 days"], [604_800, "1 week"],
];

type When = "for" | "until" | "schedule";

const FIELDS = ["machine_ids", "labels", "groups", "duration_seconds", "ends_at", "starts_at", "schedule.cron", "schedule.timezone", "schedule.duration_seconds", "comment"];

/** "a, b , c" → ["a", "b", "c"] */
export const listOf = (text: string) => text.split(",").map((s) => s.trim()).filter(Boolean);

/** Machine ids for what was typed (ids or host names), or the words that name no machine. */
export function resolveMachines(text: string, machines: Map<number, Machine>): { ids: number[]; unknown: string[] } {
  const byName = new Map<string, number>();
  for (const m of machines.values()) byName.set(m.hostname.toLowerCase(), m.id);
  const ids: number[] = [];
  const unknown: string[] = [];
  for (const word of listOf(text)) {
    const id = /^\d{1,9}$/.test(word) ? Number(word) : byName.get(word.toLowerCase());
    if (id !== undefined) ids.push(id);
    else unknown.push(word);
  }
  return { ids: [...new Set(ids)], unknown };
}

/** The id and ARIA links a Field gives its control go on to the select. */
const DurationSelect = ({ value, onChange, ...field }: { value: number; onChange: (n: number) => void }) =>
  html`<select ...${field} value=${String(value)} onChange=${(e: Event) => onChange(Number(valueOf(e)))}>
    ${DURATIONS.map(([s, text]) => html`<option value=${String(s)}>${text}</option>`)}
  </select>`;

export function SilenceForm({ store, machine, onCreated }: { store: MachineStore; machine?: number; onCreated: (s: Silence) => void }) {
  const [form, setForm] = useState(() => ({
    machines: machine !== undefined ? (store.machines.get(machine)?.hostname ?? String(machine)) : "",
    labels: "",
    groups: "",
    when: "for" as When,
    duration: 7200,
    until: "",
    cron: "",
    timezone: Intl.DateTimeFormat().resolvedOptions().timeZone || "UTC",
    windowLength: 3600,
    comment: "",
  }));
  const [problems, setProblems] = useState<Record<string, string>>({});
  const action = useAction();
  const groups = useMemo(() => labelsAndGroups(store.machines).groups, [store, store.membersVersion]);
  const set = <K extends keyof typeof form>(key: K, value: (typeof form)[K]) => setForm({ ...form, [key]: value });
  const text = (key: "machines" | "labels" | "groups" | "until" | "cron" | "timezone" | "comment") => (e: Event) => set(key, valueOf(e));

  const submit = action.onSubmit(async () => {
    const found = resolveMachines(form.machines, store.machines);
    const labels = listOf(form.labels);
    const mine: Record<string, string> = {};
    if (found.unknown.length) mine.machine_ids = `No machine is called ${found.unknown.join(", ")}.`;
    const bad = labels.filter((l) => !isLabel(l));
    if (bad.length) mine.labels = `Not key=value: ${bad.join(", ")}.`;
    if (form.when === "until" && !form.until) mine.ends_at = "Choose the date and time it ends.";
    setProblems(mine);
    if (Object.keys(mine).length) return;
    const body: Record<string, unknown> = { comment: form.comment.trim() };
    if (found.ids.length) body.machine_ids = found.ids;
    if (labels.length) body.labels = labels;
    if (listOf(form.groups).length) body.groups = listOf(form.groups);
    if (form.when === "for") body.duration_seconds = form.duration;
    else if (form.when === "until") body.ends_at = new Date(form.until).toISOString();
    else body.schedule = { cron: form.cron.trim(), timezone: form.timezone.trim(), duration_seconds: form.windowLength };
    onCreated(await api<Silence>("/api/silences", { method: "POST", body }));
    setForm({ ...form, machines: "", labels: "", groups: "", comment: "" });
  });
  const error = (field: string) => problems[field] ?? action.about(field);
  const choice = (value: When, label: string) => html`<label class="check">
    <input type="radio" name="silence-when" value=${value} checked=${form.when === value} onChange=${() => set("when", value)} /> ${label}</label>`;

  return html`<form class="form silence-form" onSubmit=${submit} aria-labelledby="new-silence-h">
    <fieldset>
      <legend>Which machines</legend>
      <p class="hint">Name them, or select them by labels (a machine must carry all of them) or by groups (any of them).</p>
      <${Field} id="silence-machines" label="Machines" hint="Host names or ids, separated by commas" error=${error("machine_ids")}>
        <input type="text" autocomplete="off" autocapitalize="none" spellcheck=${false} value=${form.machines} onInput=${text("machines")} />
      </${Field}>
      <${Field} id="silence-labels" label="Labels" hint="key=value, separated by commas, e.g. role=db" error=${error("labels")}>
        <input type="text" autocomplete="off" autocapitalize="none" spellcheck=${false} value=${form.labels} onInput=${text("labels")} />
      </${Field}>
      <${Field} id="silence-groups" label="Groups" hint="Separated by commas, e.g. vni 4096, subnet 198.18.0.0/24" error=${error("groups")}>
        <input type="text" list="silence-group-choices" autocomplete="off" spellcheck=${false} value=${form.groups} onInput=${text("groups")} />
      </${Field}>
      <datalist id="silence-group-choices">${groups.map(([g]) => html`<option value=${g} />`)}</datalist>
    </fieldset>
    <fieldset>
      <legend>For how long</legend>
      <div class="choices">${choice("for", "For a while")} ${choice("until", "Until a time")} ${choice("schedule", "On a schedule")}</div>
      ${form.when === "for"
        ? html`<${Field} id="silence-duration" label="Duration" error=${error("duration_seconds")}>
            <${DurationSelect} value=${form.duration} onChange=${(n: number) => set("duration", n)} />
          </${Field}>`
        : form.when === "until"
          ? html`<${Field} id="silence-until" label="Until (your local time)" error=${error("ends_at")}>
              <input type="datetime-local" value=${form.until} onInput=${text("until")} />
            </${Field}>`
          : html`<${Field} id="silence-cron" label="Cron" hint="minute hour day month weekday: 0 2 * * 6 is Saturdays at 02:00" error=${error("schedule.cron")}>
                <input type="text" class="mono" autocomplete="off" spellcheck=${false} required value=${form.cron} placeholder="0 2 * * 6" onInput=${text("cron")} />
              </${Field}>
              <${Field} id="silence-timezone" label="Time zone" hint="e.g. Europe/Berlin or UTC" error=${error("schedule.timezone")}>
                <input type="text" autocomplete="off" spellcheck=${false} value=${form.timezone} onInput=${text("timezone")} />
              </${Field}>
              <${Field} id="silence-window" label="Each window lasts" error=${error("schedule.duration_seconds")}>
                <${DurationSelect} value=${form.windowLength} onChange=${(n: number) => set("windowLength", n)} />
              </${Field}>`}
    </fieldset>
    <${Field} id="silence-comment" label="Comment" hint="Why, for whoever wonders where the messages went" error=${error("comment")}>
      <input type="text" maxlength="500" autocomplete="off" value=${form.comment} onInput=${text("comment")} />
    </${Field}>
    <${Failure} action=${action} fields=${FIELDS} />
    <div class="actions start">
      <button type="submit" class="primary" aria-disabled=${action.busy}>${action.busy ? "Silencing…" : "Create silence"}</button>
    </div>
  </form>`;
}
