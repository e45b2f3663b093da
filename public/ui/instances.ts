// The vxman instances on this database (docs/cluster.md): which are live, which one answered this
// page, who holds how many shards and checks how many machines. Asked for again every few seconds
// while the page is open and the tab in view: a heartbeat is renewed every few seconds too, and
// an instance that dies shows as dead a lease period later.
import { useEffect, useState } from "preact/hooks";
import type { Instance } from "../../src/cluster/model.ts";
import { TimeAgo } from "./bits.ts";
import { html } from "./html.ts";
import { loadNotice, useLoad } from "./load.ts";

export const INSTANCES_REFRESH_MS = 5_000;

/** A counter that goes up every `ms` while the tab is visible (and at once when it comes back). */
function useTicks(ms: number): number {
  const [ticks, setTicks] = useState(0);
  useEffect(() => {
    const tick = () => document.visibilityState === "visible" && setTicks((n) => n + 1);
    const timer = setInterval(tick, ms);
    document.addEventListener("visibilitychange", tick);
    return () => {
      clearInterval(timer);
      document.removeEventListener("visibilitychange", tick);
    };
  }, [ms]);
  return ticks;
}

const STATE_CLASS: Record<Instance["state"], string> = { live: "state-active", dead: "state-down", stopped: "state-ended" };

function InstanceRow({ i, now }: { i: Instance; now: number }) {
  const cls = [i.this_instance ? "this-instance" : "", i.state === "dead" ? "instance-dead" : ""].filter(Boolean).join(" ");
  return html`<tr class=${cls} data-instance=${i.id} data-state=${i.state} aria-current=${i.this_instance ? "true" : undefined}>
    <td data-label="Instance"><strong class="break mono">${i.id}</strong>${i.this_instance ? html` <span class="tag">this instance</span>` : null}</td>
    <td data-label="Host" class="break">${i.host} <span class="muted">pid ${i.pid}</span></td>
    <td data-label="Version" class="mono">${i.version}</td>
    <td data-label="Address" class="break mono">${i.url ?? html`<span class="muted">—</span>`}</td>
    <td data-label="State"><span class=${`tag ${STATE_CLASS[i.state]}`}>${i.state}</span></td>
    <td data-label="Started"><${TimeAgo} iso=${i.started_at} now=${now} /></td>
    <td data-label="Heartbeat">${i.state === "stopped" ? html`stopped <${TimeAgo} iso=${i.stopped_at} now=${now} />` : html`<${TimeAgo} iso=${i.heartbeat_at} now=${now} />`}</td>
    <td data-label="Leases" class="num" title="Shards held, of 256">${i.leases_held}</td>
    <td data-label="Machines" class="num">${i.machines_watched.toLocaleString()}</td>
    <td data-label="Monitoring">${i.monitoring ? "on" : html`<span class="muted" title="No ICMP socket: serves the API and dashboards, checks no machines">off</span>`}</td>
  </tr>`;
}

function summary(items: Instance[]): string {
  const n = (state: Instance["state"]) => items.filter((i) => i.state === state).length;
  const parts = [`${n("live")} live`, n("dead") ? `${n("dead")} dead` : "", n("stopped") ? `${n("stopped")} stopped` : ""];
  return `${parts.filter(Boolean).join(", ")} (seen in the last day)`;
}

export function InstancesPage({ now }: { now: number }) {
  const ticks = useTicks(INSTANCES_REFRESH_MS);
  const [list] = useLoad<{ items: Instance[] }>("/api/instances", ticks);
  return html`<section class="page-section" aria-labelledby="instances-h">
    <h2 id="instances-h" tabindex="-1">Instances</h2>
    <p class="muted">The vxman processes sharing this database. Each checks the machines of the shards it holds; a dead one's are taken over by the others.</p>
    ${list.state !== "ok"
      ? loadNotice(list, "instances")
      : html`<p class="shown muted">${summary(list.value.items)}</p>
        <table class="list-table instances">
          <thead><tr>
            <th scope="col">Instance</th><th scope="col">Host</th><th scope="col">Version</th><th scope="col">Address</th><th scope="col">State</th>
            <th scope="col">Started</th><th scope="col">Last heartbeat</th><th scope="col" class="num">Leases</th><th scope="col" class="num">Machines</th><th scope="col">Monitoring</th>
          </tr></thead>
          <tbody>${list.value.items.map((i) => html`<${InstanceRow} key=${i.id} i=${i} now=${now} />`)}</tbody>
        </table>`}
  </section>`;
}
