// Which machines a job runs on: its targets {machine_ids?, labels? (all), groups? (any), status?,
// q?} against the machines as the database has them when the run starts (not this instance's
// memory: a machine may have registered through another instance). Every part given must match;
// {} is every machine (the selectors' rule, as for channels and silences).
import type { Machine } from "../api/machines/model.ts";
import { matches } from "../api/machines/directory.ts";
import type { Queryable } from "../db/index.ts";
import type { GroupOptions } from "../outages/groups.ts";
import { selects } from "../outages/selectors.ts";
import type { Targets } from "./run-model.ts";

export type TargetMachine = Pick<Machine, "id" | "hostname" | "ip_address" | "mac_address" | "status" | "labels" | "extra_data">;

/** The machines of `machines` the targets select, in machine (id) order. Pure. */
export function selectTargets<M extends TargetMachine>(machines: Iterable<M>, targets: Targets, groups: GroupOptions): M[] {
  const needle = targets.q?.toLowerCase();
  const chosen: M[] = [];
  for (const m of machines) {
    if (targets.status && m.status !== targets.status) continue;
    if (needle && !matches(m, needle)) continue;
    if (selects(targets, m, groups)) chosen.push(m);
  }
  return chosen;
}

/** Every machine as targets see it, oldest first (narrow columns: this is read at each run's start). */
export function loadTargetMachines(q: Queryable): Promise<TargetMachine[]> {
  return q.query<TargetMachine>(
    "SELECT id, hostname, host(ip_address) AS ip_address, mac_address::text AS mac_address, status, labels, extra_data FROM machines ORDER BY id",
  );
}
