// Which machines a job runs on: its targets {machine_ids?, labels? (all), groups? (any), status?,
// q?} against the machines as the directory holds them now. Every part given must match; {} is
// every machine (the selectors' rule, as for channels and silences). Pure.
import type { Machine } from "../api/machines/model.ts";
import { matches } from "../api/machines/directory.ts";
import type { GroupOptions } from "../outages/groups.ts";
import { selects } from "../outages/selectors.ts";
import type { Targets } from "./run-model.ts";

export function selectTargets(machines: Iterable<Machine>, targets: Targets, groups: GroupOptions): Machine[] {
  const needle = targets.q?.toLowerCase();
  const chosen: Machine[] = [];
  for (const m of machines) {
    if (targets.status && m.status !== targets.status) continue;
    if (needle && !matches(m, needle)) continue;
    if (selects(targets, m, groups)) chosen.push(m);
  }
  return chosen;
}
