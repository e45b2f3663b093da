// Selecting machines: a channel's filter and a silence are "which machines": by id, by labels
// (all of them), by groups (any of them). Every part given must match; an empty selector
// matches every machine.
import { groupsOf, type GroupOptions, type Grouped } from "./groups.ts";

export interface Selector {
  machine_ids?: readonly number[];
  labels?: readonly string[];
  groups?: readonly string[];
}

export interface Selectable extends Grouped {
  id: number;
}

export function selects(selector: Selector, m: Selectable, o: GroupOptions): boolean {
  if (selector.machine_ids?.length && !selector.machine_ids.includes(m.id)) return false;
  if (selector.labels?.length && !selector.labels.every((l) => m.labels.includes(l))) return false;
  if (selector.groups?.length) {
    const mine = groupsOf(m, o);
    if (!selector.groups.some((g) => mine.includes(g))) return false;
  }
  return true;
}
