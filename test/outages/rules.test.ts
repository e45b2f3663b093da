// The pure rules behind outages: built-in groups and the GROUP_BY choice, labels, selectors,
// silence windows (one-off and cron in a time zone), retry delays, and what a message says.
import { describe, expect, test } from "bun:test";
import { groupFor, groupsOf, isLabel, normalizeLabels, subnetOf, type GroupOptions } from "../../src/outages/groups.ts";
import { render } from "../../src/outages/messages.ts";
import { selects } from "../../src/outages/selectors.ts";
import { retryDelay } from "../../src/outages/sender.ts";
import { windowOf, type SilenceRow } from "../../src/outages/silences.ts";

const O: GroupOptions = { groupBy: "vni-or-subnet", subnetPrefixV4: 24, subnetPrefixV6: 64 };
const machine = (ip: string, extra: Record<string, unknown> = {}, labels: string[] = []) => ({ id: 1, ip_address: ip, extra_data: extra, labels });

describe("groups", () => {
  test.each([
    ["198.18.7.201", 24, "subnet 198.18.7.0/24"],
    ["198.18.7.201", 16, "subnet 198.18.0.0/16"],
    ["198.18.7.201", 32, "subnet 198.18.7.201/32"],
    ["10.255.255.255", 8, "subnet 10.0.0.0/8"],
  ])("IPv4 %s at /%d → %s", (ip, prefix, subnet) => expect(subnetOf(ip, { subnetPrefixV4: prefix, subnetPrefixV6: 64 })).toBe(subnet));

  test.each([
    ["fd00:1:2:3:4:5:6:7", 64, "subnet fd00:1:2:3::/64"],
    ["fd00:1:2:3:4:5:6:7", 48, "subnet fd00:1:2::/48"],
    ["::1", 64, "subnet ::/64"],
    ["2001:db8::ffff", 120, "subnet 2001:db8::ff00/120"],
  ])("IPv6 %s at /%d → %s (RFC 5952 text)", (ip, prefix, subnet) => expect(subnetOf(ip, { subnetPrefixV4: 24, subnetPrefixV6: prefix })).toBe(subnet));

  test("a machine is in its VNI (when it has a whole-number one) and its subnet", () => {
    expect(groupsOf(machine("198.18.1.9", { vni: 4096 }), O)).toEqual(["vni 4096", "subnet 198.18.1.0/24"]);
    expect(groupsOf(machine("198.18.1.9", { vni: "77" }), O)).toEqual(["vni 77", "subnet 198.18.1.0/24"]);
    for (const vni of [-1, 1.5, "x", 1 << 24, null]) expect(groupsOf(machine("198.18.1.9", { vni }), O)).toEqual(["subnet 198.18.1.0/24"]);
  });

  test("GROUP_BY: the VNI when there is one else the subnet; subnet; vni; or a label's value", () => {
    expect(groupFor(machine("198.18.1.9", { vni: 5 }), O)).toEqual({ by: "vni", value: "5", key: "vni 5" });
    expect(groupFor(machine("198.18.1.9"), O)).toEqual({ by: "subnet", value: "198.18.1.0/24", key: "subnet 198.18.1.0/24" });
    expect(groupFor(machine("198.18.1.9", { vni: 5 }), { ...O, groupBy: "subnet" }).key).toBe("subnet 198.18.1.0/24");
    expect(groupFor(machine("198.18.1.9"), { ...O, groupBy: "vni" }).key).toBe("vni (none)");
    expect(groupFor(machine("198.18.1.9", {}, ["rack=r7"]), { ...O, groupBy: "label:rack" })).toEqual({ by: "rack", value: "r7", key: "rack=r7" });
    expect(groupFor(machine("198.18.1.9"), { ...O, groupBy: "label:rack" }).value).toBe("(none)");
  });
});

describe("labels and selectors", () => {
  test("a label is key=value; stored sorted, one value per key (the last one given)", () => {
    for (const ok of ["role=db", "a=", "k8s.io/zone=eu-1", "rack=R 7"]) expect(isLabel(ok)).toBe(true);
    for (const bad of ["novalue", "=x", "-k=v", "k=a,b", "k=line\nbreak", `${"k".repeat(64)}=v`]) expect(isLabel(bad)).toBe(false);
    expect(normalizeLabels(["zone=a", "role=db", "zone=b"])).toEqual(["role=db", "zone=b"]);
  });

  test("every part given must match: ids, all labels, any group; an empty selector matches all", () => {
    const m = { ...machine("198.18.1.9", { vni: 9 }, ["role=db", "rack=r1"]), id: 42 };
    expect(selects({}, m, O)).toBe(true);
    expect(selects({ machine_ids: [42] }, m, O)).toBe(true);
    expect(selects({ machine_ids: [43] }, m, O)).toBe(false);
    expect(selects({ labels: ["role=db", "rack=r1"] }, m, O)).toBe(true);
    expect(selects({ labels: ["role=db", "rack=r2"] }, m, O)).toBe(false);
    expect(selects({ groups: ["vni 1", "vni 9"] }, m, O)).toBe(true);
    expect(selects({ groups: ["subnet 198.18.2.0/24"] }, m, O)).toBe(false);
    expect(selects({ machine_ids: [42], groups: ["vni 1"] }, m, O)).toBe(false);
  });
});

describe("silence windows", () => {
  const silence = (s: Partial<SilenceRow>): SilenceRow => ({
    id: 1, machine_ids: [1], labels: [], groups: [], starts_at: new Date(0), ends_at: null, cron: null, timezone: null, duration_ms: null,
    comment: "", created_by: "t", created_at: new Date(0), expired_at: null, ...s,
  });
  const at = (iso: string) => Date.parse(iso);

  test("a one-off silence mutes from its start to its end, and not after it is ended early", () => {
    const s = silence({ starts_at: new Date("2026-01-01T10:00:00Z"), ends_at: new Date("2026-01-01T12:00:00Z") });
    expect(windowOf(s, at("2026-01-01T09:00:00Z"))).toEqual({ active: false, endsAt: null, nextStartsAt: at("2026-01-01T10:00:00Z") });
    expect(windowOf(s, at("2026-01-01T11:00:00Z"))).toEqual({ active: true, endsAt: at("2026-01-01T12:00:00Z"), nextStartsAt: null });
    expect(windowOf(s, at("2026-01-01T12:00:00Z")).active).toBe(false);
    expect(windowOf({ ...s, expired_at: new Date("2026-01-01T10:30:00Z") }, at("2026-01-01T11:00:00Z")).active).toBe(false);
  });

  test("a maintenance window: Saturdays 02:00 Europe/Berlin for 2 h (the time zone's own clock, summer and winter)", () => {
    const s = silence({ cron: "0 2 * * 6", timezone: "Europe/Berlin", duration_ms: 2 * 3_600_000 });
    // 2026-01-03 is a Saturday: 02:00 in Berlin is 01:00 UTC in winter.
    expect(windowOf(s, at("2026-01-03T00:59:00Z")).active).toBe(false);
    expect(windowOf(s, at("2026-01-03T01:30:00Z"))).toMatchObject({ active: true, endsAt: at("2026-01-03T03:00:00Z") });
    expect(windowOf(s, at("2026-01-03T03:00:00Z")).active).toBe(false);
    expect(windowOf(s, at("2026-01-03T03:00:00Z")).nextStartsAt).toBe(at("2026-01-10T01:00:00Z"));
    // In summer, 02:00 in Berlin is 00:00 UTC.
    expect(windowOf(s, at("2026-07-04T00:30:00Z"))).toMatchObject({ active: true, endsAt: at("2026-07-04T02:00:00Z") });
  });

  test("a schedule stops recurring at its end", () => {
    const s = silence({ cron: "0 * * * *", timezone: "UTC", duration_ms: 600_000, ends_at: new Date("2026-01-01T12:05:00Z") });
    expect(windowOf(s, at("2026-01-01T11:03:00Z"))).toMatchObject({ active: true, endsAt: at("2026-01-01T11:10:00Z"), nextStartsAt: at("2026-01-01T12:00:00Z") });
    expect(windowOf(s, at("2026-01-01T12:03:00Z"))).toMatchObject({ active: true, endsAt: at("2026-01-01T12:05:00Z"), nextStartsAt: null });
    expect(windowOf(s, at("2026-01-01T12:06:00Z")).active).toBe(false);
  });
});

describe("retries and messages", () => {
  test("each retry waits about twice as long, ±20 %: 8 tries span about an hour at the default 30 s", () => {
    expect(retryDelay(1, 30_000, () => 0.5)).toBe(30_000);
    expect(retryDelay(3, 30_000, () => 0.5)).toBe(120_000);
    expect(retryDelay(3, 30_000, () => 0)).toBe(96_000);
    expect(retryDelay(3, 30_000, () => 1)).toBe(144_000);
    const total = [1, 2, 3, 4, 5, 6, 7].reduce((sum, a) => sum + retryDelay(a, 30_000, () => 0.5), 0);
    expect(total / 60_000).toBeCloseTo(63.5, 0);
  });

  test("one machine is named in the title, many are counted; the text lists ten and says how many more", () => {
    const m = (i: number) => ({ id: i, hostname: `n-${i}`, ip_address: `198.18.0.${i}`, status: "unreachable" as const, labels: [], group: "vni 5", since: "2026-01-01T00:00:00.000Z", outage_seconds: null });
    const g = { by: "vni", value: "5", key: "vni 5" };
    expect(render("unreachable", g, [m(1)], "2026-01-01T00:05:00.000Z", null).title).toBe("n-1 (198.18.0.1) is unreachable — vni 5");
    const many = render("unreachable", g, Array.from({ length: 60 }, (_, i) => m(i + 1)), "2026-01-01T00:05:00.000Z", "https://vxman.example.org/");
    expect(many).toMatchObject({ title: "60 machines unreachable in vni 5", total: 60, url: "https://vxman.example.org/" });
    expect(many.machines).toHaveLength(50);
    expect(many.text.split("\n")).toHaveLength(12); // ten machines, "…and 50 more", the link
    expect(many.text).toContain("…and 50 more");
    expect(render("recovered", g, [{ ...m(2), status: "active", outage_seconds: 754 }], "2026-01-01T00:15:00.000Z", null).title).toBe("n-2 (198.18.0.2) recovered after 12m 34s — vni 5");
  });
});
