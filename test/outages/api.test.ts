// The outages API over HTTP, in-process and on the compiled binary: labels (sent by machines,
// edited by operators, filtered on), outage history and uptime (from real outage rows the event
// trigger writes), silences' validation, and channels' settings (merge, secrets kept, never
// shown).
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { ADMIN_TOKEN, loopbackIp, machineBody } from "../helpers/app.ts";
import { openTarget, TARGETS, type Target } from "../helpers/target.ts";

const admin = { authorization: `Bearer ${ADMIN_TOKEN}` };
const SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

for (const name of TARGETS.filter((n) => n !== "app/postgres")) {
  describe(`outages API (${name})`, () => {
    let t: Target;
    beforeAll(async () => {
      t = await openTarget(name);
    }, 120_000);
    afterAll(() => t.close());

    const call = async (method: string, path: string, json?: unknown) => {
      const res = await t.request(method, path, { json, headers: admin });
      return { status: res.status, json: res.status === 204 ? null : await res.json() };
    };
    let n = 0;
    const register = (extra: Record<string, unknown> = {}) => {
      n++;
      return call("PUT", `/api/machines/${loopbackIp(7000 + n)}`, machineBody(7000 + n, extra));
    };
    /** An outage as the monitor writes one: unreachable then (optionally) recovered events. */
    const outage = async (id: number, startedSecondsAgo: number, endedSecondsAgo: number | null) => {
      const insert = (kind: string, ago: number) =>
        t.db.query(
          `INSERT INTO events (kind, machine_id, ip_address, hostname, details, at)
           SELECT $2, id, ip_address, hostname, '{}', now() - $3::float8 * interval '1 second' FROM machines WHERE id = $1`,
          [id, kind, ago],
        );
      await insert("unreachable", startedSecondsAgo);
      if (endedSecondsAgo !== null) await insert("recovered", endedSecondsAgo);
    };

    test("labels: sent at registration (normalized), replaced by an operator's PATCH (logged), filtered and searched", async () => {
      const reg = await register({ labels: ["zone=b", "role=db", "zone=a"], extra_data: { vni: 321 } });
      const ip = loopbackIp(7000 + n);
      expect(reg.status).toBe(201);
      expect(reg.json.labels).toEqual(["role=db", "zone=a"]);
      const bad = await register({ labels: ["no-equals-sign"] });
      expect(bad.status).toBe(422);
      expect(bad.json.details[0].field).toBe("labels.0");
      const patched = await call("PATCH", `/api/machines/${reg.json.id}`, { labels: ["role=web", "rack=r9"] });
      expect(patched.json.labels).toEqual(["rack=r9", "role=web"]);
      const events = (await call("GET", `/api/events?machine_id=${reg.json.id}&kind=labels_changed`)).json.items;
      expect(events[0]).toMatchObject({ actor: "admin-token", details: { labels: { old: ["role=db", "zone=a"], new: ["rack=r9", "role=web"] } } });
      // A re-registration without labels keeps them; one with labels replaces them.
      await call("PUT", `/api/machines/${ip}`, machineBody(7001, { extra_data: { vni: 321 } }));
      expect((await call("GET", `/api/machines/${reg.json.id}`)).json.labels).toEqual(["rack=r9", "role=web"]);
      await call("PUT", `/api/machines/${ip}`, machineBody(7001, { extra_data: { vni: 321 }, labels: ["rack=r9"] }));
      expect((await call("GET", `/api/machines/${reg.json.id}`)).json.labels).toEqual(["rack=r9"]);
      const list = async (q: string) => (await call("GET", `/api/machines?${q}`)).json.items.map((m: { id: number }) => m.id);
      expect(await list("label=rack%3Dr9")).toEqual([reg.json.id]);
      expect(await list("group=vni%20321")).toEqual([reg.json.id]);
      expect(await list("q=RACK%3DR9")).toEqual([reg.json.id]);
      expect(await list("label=rack%3Dr8")).toEqual([]);
    });

    test("outage history: opened and closed by the transitions, filtered by machine, group and open; uptime from it", async () => {
      const a = (await register({ extra_data: { vni: 654 } })).json.id as number;
      const b = (await register({ extra_data: { vni: 655 } })).json.id as number;
      const never = (await register({ extra_data: { vni: 656 } })).json.id as number; // never down
      // Registered just now: back-date them so the windows cover the outages.
      await t.db.query("UPDATE machines SET created_at = now() - interval '40 days' WHERE id = ANY($1::int[])", [[a, b, never]]);
      await outage(a, 2 * 3600, 3600); // an hour down, ended an hour ago
      await outage(b, 600, null); // down for ten minutes, still down
      const all = (await call("GET", `/api/outages?machine_id=${a}`)).json.items;
      expect(all).toHaveLength(1);
      expect(all[0]).toMatchObject({ machine_id: a, ended_by: "recovered", groups: ["vni 654", expect.stringMatching(/^subnet /)] });
      expect(all[0].duration_seconds).toBeCloseTo(3600, -1);
      const open = (await call("GET", "/api/outages?open=true")).json.items.map((o: { machine_id: number }) => o.machine_id);
      expect(open).toContain(b);
      expect(open).not.toContain(a);
      expect((await call("GET", "/api/outages?group=vni%20655")).json.items.map((o: { machine_id: number }) => o.machine_id)).toEqual([b]);

      const uptime = new Map((await call("GET", "/api/uptime")).json.items.map((u: { machine_id: number }) => [u.machine_id, u]));
      expect(uptime.get(a)).toMatchObject({ down_since: null });
      expect((uptime.get(a) as { day: number }).day).toBeCloseTo(100 * (1 - 1 / 24), 1);
      expect((uptime.get(a) as { week: number }).week).toBeCloseTo(100 * (1 - 1 / (7 * 24)), 1);
      expect((uptime.get(b) as { day: number }).day).toBeCloseTo(100 * (1 - 600 / 86_400), 1);
      expect((uptime.get(b) as { down_since: string }).down_since).not.toBeNull();
      expect(uptime.get(never)).toEqual({ machine_id: never, day: 100, week: 100, month: 100, down_since: null });

      // Deleting a machine that is down ends its outage (kept in the history).
      await call("DELETE", `/api/machines/${b}`);
      const ended = (await call("GET", `/api/outages?machine_id=${b}`)).json.items[0];
      expect(ended).toMatchObject({ ended_by: "deleted", groups: [] });
    });

    test("silences: what is refused, naming the field; a schedule; ending one early", async () => {
      const refused = async (body: unknown, field: string) => {
        const res = await call("POST", "/api/silences", body);
        expect({ status: res.status, field: res.json.details?.[0]?.field }).toEqual({ status: 422, field });
      };
      await refused({ duration_seconds: 60 }, "machine_ids");
      await refused({ groups: ["vni 1"] }, "duration_seconds");
      await refused({ groups: ["vni x"], duration_seconds: 60 }, "groups.0");
      await refused({ groups: ["vni 1"], ends_at: "2001-01-01T00:00:00Z" }, "ends_at");
      await refused({ groups: ["vni 1"], schedule: { cron: "every tuesday", duration_seconds: 3600 } }, "schedule.cron");
      await refused({ groups: ["vni 1"], schedule: { cron: "0 2 * * 6", timezone: "Mars/Olympus", duration_seconds: 3600 } }, "schedule.timezone");
      const weekly = await call("POST", "/api/silences", { labels: ["role=db"], schedule: { cron: "0 2 * * 6", timezone: "Europe/Berlin", duration_seconds: 7200 }, comment: "patch night" });
      expect(weekly.status).toBe(201);
      expect(weekly.json).toMatchObject({ schedule: { cron: "0 2 * * 6", timezone: "Europe/Berlin", duration_seconds: 7200 }, comment: "patch night" });
      expect(Date.parse(weekly.json.next_starts_at)).toBeGreaterThan(Date.now());
      const now = await call("POST", "/api/silences", { machine_ids: [1], duration_seconds: 3600 });
      expect(now.json.active).toBe(true);
      expect((await call("DELETE", `/api/silences/${now.json.id}`)).status).toBe(204);
      const listed = (await call("GET", "/api/silences")).json.items.map((s: { id: number }) => s.id);
      expect(listed).toContain(weekly.json.id);
      expect(listed).not.toContain(now.json.id);
      const all = (await call("GET", "/api/silences?all=true")).json.items.find((s: { id: number }) => s.id === now.json.id);
      expect(all).toMatchObject({ active: false, expired_at: expect.any(String) });
      expect((await call("GET", "/api/events?kind=silence_created")).json.items[0].actor).toBe("admin-token");
    });

    test("channels: settings merged on PATCH (a secret kept when not resent), never shown; names unique", async () => {
      const made = await call("POST", "/api/channels", { name: "hooks", kind: "webhook", settings: { url: "http://127.0.0.1:9/a", secret: SECRET, headers: { Authorization: "Bearer topsecret" } }, events: ["unreachable"] });
      expect(made.status).toBe(201);
      expect(made.json.settings).toEqual({ url: "http://127.0.0.1:9/a", secret: { set: true }, headers: { Authorization: { set: true } } });
      expect((await call("POST", "/api/channels", { name: "hooks", kind: "slack", settings: { url: "http://127.0.0.1:9/s" }, events: ["recovered"] })).status).toBe(409);
      const patched = await call("PATCH", `/api/channels/${made.json.id}`, { settings: { url: "http://127.0.0.1:9/b" }, events: ["unreachable", "recovered"], max_per_minute: 5 });
      expect(patched.json).toMatchObject({ settings: { url: "http://127.0.0.1:9/b", secret: { set: true } }, events: ["unreachable", "recovered"], max_per_minute: 5 });
      const cleared = await call("PATCH", `/api/channels/${made.json.id}`, { settings: { secret: null } });
      expect(cleared.status).toBe(422); // a webhook needs its secret
      expect(cleared.json.details[0].field).toBe("settings.secret");
      // What is stored: nothing readable but the URL.
      const [row] = await t.db.query<{ all: string }>("SELECT row_to_json(c)::text AS all FROM channels c WHERE id = $1", [made.json.id]);
      expect(row!.all).not.toContain(SECRET.slice(6));
      expect(row!.all).not.toContain("topsecret");
      const everything = JSON.stringify((await call("GET", "/api/channels")).json) + JSON.stringify((await call("GET", "/api/events?limit=1000")).json);
      expect(everything).not.toContain("topsecret");
      expect(everything).not.toContain(SECRET.slice(6));
      expect((await call("DELETE", `/api/channels/${made.json.id}`)).status).toBe(204);
      expect((await call("GET", `/api/channels`)).json.items).toEqual([]);
    });
  });
}
