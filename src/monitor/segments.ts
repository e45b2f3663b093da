// Segments: the machines grouped the way messages group them (a VNI, a subnet: GROUP_BY). When
// one machine of a segment fails its first check, the others that look healthy are checked at
// once; when one comes back, the others that are down are. Each machine is otherwise checked on
// its own schedule, spread over the interval, so without this a segment that dies at once would
// be seen dying over a whole interval (and more, with backoff) and reported in several messages;
// with it, the segment's machines cross the failure threshold together and their outage is one
// message, and so is their recovery. A segment is nudged at most once per interval each way.
import { groupFor, type GroupOptions, type Grouped } from "../outages/groups.ts";

export type Direction = "down" | "up";

export class Segments {
  readonly #members = new Map<string, Set<number>>();
  readonly #segmentOf = new Map<number, string>();
  readonly #lastNudge = new Map<string, number>();

  constructor(
    private readonly options: GroupOptions,
    /** The least time between two nudges of one segment in one direction. */
    private readonly minGapMs: number,
  ) {}

  /** Puts a machine in its segment (again, when its VNI, address or labels changed). */
  place(id: number, machine: Grouped): void {
    const key = groupFor(machine, this.options).key;
    if (this.#segmentOf.get(id) === key) return;
    this.remove(id);
    this.#segmentOf.set(id, key);
    let members = this.#members.get(key);
    if (!members) this.#members.set(key, (members = new Set()));
    members.add(id);
  }

  remove(id: number): void {
    const key = this.#segmentOf.get(id);
    if (key === undefined) return;
    this.#segmentOf.delete(id);
    const members = this.#members.get(key);
    members?.delete(id);
    if (members?.size === 0) this.#members.delete(key);
  }

  /** The other machines of `id`'s segment to check now; none when the segment was nudged this
   *  way within the last interval. */
  nudge(id: number, direction: Direction, now: number): number[] {
    const key = this.#segmentOf.get(id);
    if (key === undefined) return [];
    const mark = `${direction} ${key}`;
    if (now - (this.#lastNudge.get(mark) ?? -Infinity) < this.minGapMs) return [];
    this.#lastNudge.set(mark, now);
    return [...(this.#members.get(key) ?? [])].filter((m) => m !== id);
  }
}
