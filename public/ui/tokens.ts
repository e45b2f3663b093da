// My API tokens, for scripts: create one (its secret is shown once, here, and kept nowhere), see
// them all, revoke one. A token's role is at most mine.
import { useEffect, useState } from "preact/hooks";
import type { ApiToken } from "../../src/people/model.ts";
import { ROLES, atLeast, type Role } from "../../src/people/roles.ts";
import { api } from "../lib/api.ts";
import { TimeAgo } from "./bits.ts";
import { Confirm } from "./dialogs.ts";
import { Failure, Field, useAction, valueOf } from "./forms.ts";
import { html } from "./html.ts";
import { loadNotice, useLoad } from "./load.ts";

type Created = ApiToken & { token: string };

const EXPIRY_DAYS = [
  ["30", "in 30 days"],
  ["90", "in 90 days"],
  ["365", "in a year"],
  ["", "never"],
] as const;

function CreateToken({ role, onCreated }: { role: Role; onCreated: (t: Created) => void }) {
  const [name, setName] = useState("");
  const [tokenRole, setTokenRole] = useState<Role>(role);
  const [days, setDays] = useState("90");
  const action = useAction();
  const submit = action.onSubmit(async () => {
    const body = { name: name.trim(), role: tokenRole, ...(days ? { expires_in_days: Number(days) } : {}) };
    onCreated(await api<Created>("/api/tokens", { method: "POST", body }));
    setName("");
  });
  return html`<form class="form inline-form" onSubmit=${submit}>
    <${Field} id="token-name" label="Name" hint="What it is for, e.g. backup script" error=${action.about("name")}>
      <input type="text" required maxlength="100" autocomplete="off" value=${name} onInput=${(e: Event) => setName(valueOf(e))} />
    </${Field}>
    <${Field} id="token-role" label="Role" error=${action.about("role")}>
      <select value=${tokenRole} onChange=${(e: Event) => setTokenRole(valueOf(e) as Role)}>
        ${ROLES.filter((r) => atLeast(role, r)).map((r) => html`<option value=${r}>${r}</option>`)}
      </select>
    </${Field}>
    <${Field} id="token-expiry" label="Expires" error=${action.about("expires_in_days")}>
      <select value=${days} onChange=${(e: Event) => setDays(valueOf(e))}>
        ${EXPIRY_DAYS.map(([v, label]) => html`<option value=${v}>${label}</option>`)}
      </select>
    </${Field}>
    <div class="field submit"><button type="submit" class="primary" aria-disabled=${action.busy}>${action.busy ? "Creating…" : "Create token"}</button></div>
    <${Failure} action=${action} />
  </form>`;
}

/** The secret, once: to copy now or never. */
function ShownOnce({ created, onDone }: { created: Created; onDone: () => void }) {
  const [copied, setCopied] = useState<string | null>(null);
  useEffect(() => document.getElementById("new-token")?.focus(), []);
  const copy = async () => {
    const input = document.getElementById("new-token") as HTMLInputElement;
    input.select();
    try {
      await navigator.clipboard.writeText(created.token);
      setCopied("Copied.");
    } catch {
      // No clipboard API (a page served over plain HTTP from another host): the text is selected.
      setCopied("Selected: press Ctrl+C (⌘C) to copy.");
    }
  };
  return html`<div class="banner warn shown-once" role="status">
    <p><strong>Your new token "${created.name}".</strong> Copy it now: you will not see it again.</p>
    <div class="token-copy">
      <input id="new-token" class="mono" type="text" readonly value=${created.token} aria-label="The new token" onFocus=${(e: Event) => (e.target as HTMLInputElement).select()} />
      <button type="button" class="primary" onClick=${copy}>Copy</button>
    </div>
    <p class="muted" aria-live="polite">${copied ?? html`Use it as <code>Authorization: Bearer ${created.prefix}…</code>`}</p>
    <button type="button" onClick=${onDone}>I have copied it</button>
  </div>`;
}

function tokenState(t: ApiToken, now: number): string {
  if (t.revoked_at) return "revoked";
  if (t.expires_at && Date.parse(t.expires_at) <= now) return "expired";
  return "active";
}

function TokenItem({ t, now, onRevoke }: { t: ApiToken; now: number; onRevoke: (t: ApiToken) => void }) {
  const state = tokenState(t, now);
  return html`<li class=${`item token-${state}`} data-token=${t.id}>
    <div class="item-main">
      <strong class="break">${t.name}</strong> <span class="tag">${t.role}</span> <span class=${`tag state-${state}`}>${state}</span>
      <div class="muted"><span class="mono">${t.prefix}…</span> · created <${TimeAgo} iso=${t.created_at} now=${now} />
        · expires ${t.expires_at ? html`<${TimeAgo} iso=${t.expires_at} now=${now} />` : "never"}
        · last used <${TimeAgo} iso=${t.last_used_at} now=${now} />
        ${t.revoked_at ? html` · revoked <${TimeAgo} iso=${t.revoked_at} now=${now} />` : null}</div>
    </div>
    ${state === "active" ? html`<button type="button" class="danger" aria-label=${`Revoke ${t.name}`} onClick=${() => onRevoke(t)}>Revoke</button>` : null}
  </li>`;
}

export function TokensPage({ role, now }: { role: Role; now: number }) {
  const [tokens, reload] = useLoad<{ items: ApiToken[] }>("/api/tokens");
  const [created, setCreated] = useState<Created | null>(null);
  const [revoking, setRevoking] = useState<ApiToken | null>(null);
  const revoke = async () => {
    await api(`/api/tokens/${revoking!.id}`, { method: "DELETE" });
    setRevoking(null);
    reload();
  };
  return html`<section class="page-section" aria-labelledby="tokens-h">
    <h2 id="tokens-h" tabindex="-1">My API tokens</h2>
    <p class="muted">For scripts and the command line: <code>Authorization: Bearer vxm_…</code>. A token can do what its role allows, and never more than you can.</p>
    <h3>New token</h3>
    ${created
      ? html`<${ShownOnce} created=${created} onDone=${() => setCreated(null)} />`
      : html`<${CreateToken} role=${role} onCreated=${(t: Created) => {
          setCreated(t);
          reload();
        }} />`}
    <h3>Tokens</h3>
    ${tokens.state !== "ok"
      ? loadNotice(tokens, "tokens")
      : tokens.value.items.length === 0
        ? html`<p class="muted">No tokens yet.</p>`
        : html`<ul class="items">${tokens.value.items.map((t) => html`<${TokenItem} key=${t.id} t=${t} now=${now} onRevoke=${setRevoking} />`)}</ul>`}
    ${revoking
      ? html`<${Confirm} id="revoke" title=${`Revoke the token "${revoking.name}"?`} confirm="Revoke" busy="Revoking…" onConfirm=${revoke} onClose=${() => setRevoking(null)}>
          <p>Scripts using it are refused from now on. This cannot be undone; make a new token instead.</p>
        </${Confirm}>`
      : null}
  </section>`;
}
