// The machine registry API, end to end: in-process on a real PostgreSQL server and on PGlite,
// and the compiled binary over HTTP (test/helpers/target.ts).
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { Value } from "@sinclair/typebox/value";
import { ChangeFeed } from "../../src/changes.ts";
import { Machine } from "../../src/api/machines/model.ts";
import { MachineService } from "../../src/api/machines/service.ts";
import { createLogger } from "../../src/log.ts";
import { admin, loopbackIp, machineBody } from "../helpers/app.ts";
import { openTarget, TARGETS, type Target } from "../helpers/target.ts";

/** The fields of a machine that a re-registration that changes nothing leaves as they are. */
const REGISTERED_FIELDS = ["id", "hostname", "ip_address", "mac_address", "extra_data", "labels", "groups", "notes", "created_at", "updated_at"] as const;

/** Every problem of `body` against the Machine schema of the docs (PUT answers are sent as
 *  vxman makes them, not checked by Elysia on the way out: src/http/json-response.ts). */
function schemaProblems(body: unknown): string[] {
  return [...Value.Errors(Machine, body)].map((e) => `${e.path}: ${e.message}`);
}

async function count(t: Target, table = "machines"): Promise<number> {
  const [row] = await t.db.query<{ n: number }>(`SELECT count(*)::int AS n FROM ${table}`);
  return row!.n;
}

const MAX_MACHINES = 60;

for (const name of TARGETS) {
  // What the app publishes internally can only be watched in-process; the binary's side of it
  // (the same changes on the WebSocket) is tested in test/live/.
  const inProcess = !name.startsWith("binary");
  describe(`machines API (${name})`, () => {
    let t: Target;
    beforeAll(async () => {
      t = await openTarget(name, { MAX_MACHINES: String(MAX_MACHINES), ANONYMOUS_READ: "true" });
    }, 120_000);
    afterAll(() => t.close());

    test("PUT creates (201) then updates the same IP (200), never a duplicate", async () => {
      const ip = "127.2.0.1";
      const created = await t.request("PUT", `/api/machines/${ip}`, { json: machineBody(1, { extra_data: { os: "debian 12" } }) });
      expect(created.status).toBe(201);
      const m = await created.json();
      expect(m).toMatchObject({ hostname: "node-1", ip_address: ip, mac_address: "52:54:00:00:00:01", status: "active", extra_data: { os: "debian 12" } });
      for (const key of ["id", "created_at", "updated_at", "last_seen", "consecutive_failures", "last_rtt_ms", "last_checked_at", "next_check_at"]) {
        expect(m).toHaveProperty(key);
      }
      expect(m.created_at).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);

      const updated = await t.request("PUT", `/api/machines/${ip}`, { json: { hostname: "renamed", mac_address: "52:54:00:00:00:01" } });
      expect(updated.status).toBe(200);
      const u = await updated.json();
      expect(u.id).toBe(m.id);
      expect(u.hostname).toBe("renamed");
      expect(u.extra_data).toEqual({ os: "debian 12" }); // omitted extra_data keeps what was there
      const [{ n }] = (await t.db.query<{ n: number }>("SELECT count(*)::int AS n FROM machines WHERE ip_address = $1::inet", [ip])) as [{ n: number }];
      expect(n).toBe(1);
    });

    test("MAC in dash and dot notation is stored lower-case with colons", async () => {
      const dash = await t.request("PUT", "/api/machines/127.2.0.2", { json: { hostname: "d", mac_address: "52-54-00-AB-CD-EF" } });
      expect((await dash.json()).mac_address).toBe("52:54:00:ab:cd:ef");
      const dot = await t.request("PUT", "/api/machines/127.2.0.3", { json: { hostname: "c", mac_address: "5254.00AB.CDE0" } });
      expect((await dot.json()).mac_address).toBe("52:54:00:ab:cd:e0");
    });

    test("IPv6 registers and is returned in canonical form", async () => {
      const res = await t.request("PUT", "/api/machines/0:0:0:0:0:0:0:1", { json: machineBody(3) });
      expect(res.status).toBe(201);
      expect((await res.json()).ip_address).toBe("::1");
      const again = await t.request("PUT", "/api/machines/::1", { json: machineBody(3) });
      expect(again.status).toBe(200); // the same address written differently is the same machine
    });

    test("a MAC change is logged with old and new values; registration is logged", async () => {
      const ip = "127.2.0.4";
      const first = await (await t.request("PUT", `/api/machines/${ip}`, { json: machineBody(4) })).json();
      await t.request("PUT", `/api/machines/${ip}`, { json: { ...machineBody(4), mac_address: "52:54:00:99:99:99" } });
      const res = await t.request("GET", `/api/events?machine_id=${first.id}`);
      const { items } = await res.json();
      expect(items.map((e: { kind: string }) => e.kind)).toEqual(["updated", "registered"]);
      expect(items[0].details).toEqual({ mac_address: { old: "52:54:00:00:00:04", new: "52:54:00:99:99:99" } });
      expect(items[0].ip_address).toBe(ip);
    });

    test("re-registering unchanged data writes no event and does not move updated_at", async () => {
      const ip = "127.2.0.5";
      const first = await (await t.request("PUT", `/api/machines/${ip}`, { json: machineBody(5) })).json();
      await Bun.sleep(5);
      const again = await (await t.request("PUT", `/api/machines/${ip}`, { json: machineBody(5) })).json();
      expect(again.updated_at).toBe(first.updated_at);
      expect(new Date(again.last_seen).getTime()).toBeGreaterThan(new Date(first.last_seen).getTime());
      const { items } = await (await t.request("GET", `/api/events?machine_id=${first.id}`)).json();
      expect(items.map((e: { kind: string }) => e.kind)).toEqual(["registered"]);
    });

    test("every PUT answer has the documented shape; one that changes nothing is the machine as the list shows it, last_seen moved", async () => {
      const ip = "127.2.0.9";
      const created = await t.request("PUT", `/api/machines/${ip}`, { json: machineBody(9, { labels: ["role=web"], extra_data: { rack: 4 } }) });
      const changed = await t.request("PUT", `/api/machines/${ip}`, { json: machineBody(9, { labels: ["role=db"], extra_data: { rack: 4 } }) });
      await Bun.sleep(5);
      const unchanged = await t.request("PUT", `/api/machines/${ip}`, { json: machineBody(9, { labels: ["role=db"], extra_data: { rack: 4 } }) });
      expect([created.status, changed.status, unchanged.status]).toEqual([201, 200, 200]);
      const [c, u, same] = await Promise.all([created.json(), changed.json(), unchanged.json()]);
      for (const body of [c, u, same]) expect(schemaProblems(body)).toEqual([]);
      expect(same.labels).toEqual(["role=db"]);
      expect(new Date(same.last_seen).getTime()).toBeGreaterThan(new Date(u.last_seen).getTime());
      const { items } = await (await t.request("GET", `/api/machines?q=${ip}`)).json();
      const listed = items.find((m: { ip_address: string }) => m.ip_address === ip);
      for (const field of REGISTERED_FIELDS) expect({ field, value: same[field] }).toEqual({ field, value: listed[field] });
    });

    test("re-registrations arriving together (one batched statement): each gets its own machine; only real changes are logged", async () => {
      // extra_data that must survive the trip through a text[] parameter: quotes, braces,
      // commas, backslashes, NULs escaped, non-ASCII, nulls and nesting.
      const awkward = (i: number) => ({ note: `a "quoted", {braced} \\ value ${i}`, list: [1, null, { k: "v,}" }], name: "ünïcødé ✓", empty: "" });
      const ips = [...Array.from({ length: 8 }, (_, i) => `127.2.1.${i + 1}`), "fd00::1:1", "fd00::1:2"];
      const first = await Promise.all(ips.map((ip, i) => t.request("PUT", `/api/machines/${ip}`, { json: machineBody(300 + i, { extra_data: awkward(i) }) })));
      expect(first.map((r) => r.status)).toEqual(ips.map(() => 201));
      const created = await Promise.all(first.map((r) => r.json()));

      // Each IP three times at once, unchanged; then one real change for the first IP. (Sent in
      // the same burst, an unchanged one arriving after the change would rightly change it back.)
      const again = ips.flatMap((ip, i) => [0, 1, 2].map(() => ({ ip, body: machineBody(300 + i, { extra_data: awkward(i) }) })));
      const responses = await Promise.all(again.map(({ ip, body }) => t.request("PUT", `/api/machines/${ip}`, { json: body })));
      again.push({ ip: ips[0]!, body: machineBody(300, { extra_data: awkward(0), hostname: "changed-in-a-batch" }) });
      responses.push(await t.request("PUT", `/api/machines/${ips[0]}`, { json: again.at(-1)!.body }));
      expect(responses.map((r) => r.status)).toEqual(again.map(() => 200));
      const machines = await Promise.all(responses.map((r) => r.json()));
      again.forEach(({ ip }, n) => {
        const mine = created[ips.indexOf(ip)];
        expect(machines[n].id).toBe(mine.id);
        expect(machines[n].ip_address).toBe(ip);
        expect(machines[n].extra_data).toEqual(mine.extra_data);
      });
      expect(machines.at(-1).hostname).toBe("changed-in-a-batch");

      const events = await t.db.query<{ machine_id: number; kind: string }>(
        "SELECT machine_id, kind FROM events WHERE machine_id = ANY($1::int[]) ORDER BY id",
        [created.map((m) => m.id)],
      );
      expect(events.filter((e) => e.kind === "registered")).toHaveLength(ips.length);
      expect(events.filter((e) => e.kind === "updated")).toEqual([{ machine_id: created[0].id, kind: "updated" }]);
      const [{ n }] = (await t.db.query<{ n: number }>("SELECT count(*)::int AS n FROM machines WHERE id = ANY($1::int[])", [created.map((m) => m.id)])) as [{ n: number }];
      expect(n).toBe(ips.length);
    });

    if (inProcess) {
      test("an unchanged re-registration of a machine the list does not hold yet (another instance's) is answered from the database", async () => {
        // A service with no list behind it: every hit is one the list does not hold.
        const groups = { groupBy: "vni-or-subnet", subnetPrefixV4: 24, subnetPrefixV6: 64 };
        const log = createLogger({ level: "error", format: "json", destination: { write: () => {} } });
        const service = new MachineService(t.db, new ChangeFeed(), log, MAX_MACHINES, groups);
        const actor = { name: "test", address: "127.0.0.1" };
        const first = await service.register("127.2.0.10", { hostname: "ten", mac_address: "52:54:00:00:00:0a" }, actor);
        const again = await service.register("127.2.0.10", { hostname: "ten", mac_address: "52:54:00:00:00:0a" }, actor);
        expect([first.created, again.created, again.changed]).toEqual([true, false, false]);
        expect(schemaProblems(again.machine)).toEqual([]);
        for (const field of REGISTERED_FIELDS) expect({ field, value: again.machine[field] }).toEqual({ field, value: first.machine[field] });
        expect(again.machine.last_seen >= first.machine.last_seen).toBe(true);
      });

      test("changes are published after commit: registered, updated, seen (and the monitor's status update)", async () => {
        const before = t.changes!.length;
        const ip = "127.2.0.6";
        await t.request("PUT", `/api/machines/${ip}`, { json: machineBody(6) });
        await t.request("PUT", `/api/machines/${ip}`, { json: { ...machineBody(6), hostname: "six" } });
        const types = t.changes!.slice(before).map((c) => c.type);
        // A re-registration is a sign of life: the monitor answers machine_seen with a status_update.
        expect(types).toEqual(["machine_registered", "machine_updated", "machine_seen", "status_update"]);
      });
    }

    test("heartbeat: 204 and last_seen moves; 404 for an unknown IP", async () => {
      const ip = "127.2.0.7";
      const m = await (await t.request("PUT", `/api/machines/${ip}`, { json: machineBody(7) })).json();
      await Bun.sleep(5);
      const hb = await t.request("POST", `/api/machines/${ip}/heartbeat`);
      expect(hb.status).toBe(204);
      const after = await (await t.request("GET", `/api/machines/${m.id}`)).json();
      expect(new Date(after.last_seen).getTime()).toBeGreaterThan(new Date(m.last_seen).getTime());
      const unknown = await t.request("POST", "/api/machines/127.2.9.9/heartbeat");
      expect(unknown.status).toBe(404);
      expect((await unknown.json()).error).toBe("not_found");
    });

    test("GET by id and by IP; 404 JSON for unknown; 422 for a reference that is neither", async () => {
      const m = await (await t.request("PUT", "/api/machines/127.2.0.8", { json: machineBody(8) })).json();
      expect((await (await t.request("GET", `/api/machines/${m.id}`)).json()).ip_address).toBe("127.2.0.8");
      expect((await (await t.request("GET", "/api/machines/127.2.0.8")).json()).id).toBe(m.id);
      const missing = await t.request("GET", "/api/machines/999999");
      expect(missing.status).toBe(404);
      expect(await missing.json()).toMatchObject({ error: "not_found" });
      const bad = await t.request("GET", "/api/machines/not-a-machine");
      expect(bad.status).toBe(422);
    });

    test("list (from the in-memory directory): filter by status, search hostname/IP/MAC, paging with total", async () => {
      const rack: { id: number }[] = [];
      for (let i = 20; i < 30; i++) rack.push(await (await t.request("PUT", `/api/machines/${loopbackIp(i)}`, { json: machineBody(i, { hostname: `rack${i}-srv` }) })).json());

      const page = await (await t.request("GET", "/api/machines?q=rack&limit=4&offset=2")).json();
      expect(page.total).toBe(10);
      expect(page.items).toHaveLength(4);
      expect(page.items[0].hostname).toBe("rack22-srv");
      expect(page).toMatchObject({ limit: 4, offset: 2 });

      if (t.feed) {
        // In-process (no ICMP socket), the monitor's word that rack21 went down; the list follows
        // the change feed. On the binary every loopback machine answers: all stay active.
        const now = new Date().toISOString();
        t.feed.publish({ type: "status_update", machine_id: rack[1]!.id, status: "unreachable", is_alive: false, response_time: null, checked: true, last_seen: now, consecutive_failures: 3, last_checked_at: now, next_check_at: now });
      }
      const down = await (await t.request("GET", "/api/machines?status=unreachable&q=rack")).json();
      expect(down.items.map((m: { hostname: string }) => m.hostname)).toEqual(t.feed ? ["rack21-srv"] : []);
      const up = await (await t.request("GET", "/api/machines?status=active&q=rack")).json();
      expect(up.total).toBe(t.feed ? 9 : 10);

      const byIp = await (await t.request("GET", `/api/machines?q=${loopbackIp(25)}`)).json();
      expect(byIp.items.map((m: { hostname: string }) => m.hostname)).toEqual(["rack25-srv"]);

      const byMac = await (await t.request("GET", `/api/machines?q=${machineBody(26).mac_address.toUpperCase()}`)).json();
      expect(byMac.items.map((m: { hostname: string }) => m.hostname)).toEqual(["rack26-srv"]);

      const wildcard = await (await t.request("GET", "/api/machines?q=%25")).json(); // a literal %, not "everything"
      expect(wildcard.total).toBe(0);

      const badStatus = await t.request("GET", "/api/machines?status=dead");
      expect(badStatus.status).toBe(422);
      expect((await badStatus.json()).details[0].field).toBe("status");
      expect((await t.request("GET", "/api/machines?limit=0")).status).toBe(422);
    });

    test("DELETE needs the admin token: 401 without, 403 wrong, then 204 and the record is in the log", async () => {
      const m = await (await t.request("PUT", "/api/machines/127.2.0.10", { json: machineBody(10, { extra_data: { vni: 42 } }) })).json();
      const none = await t.request("DELETE", `/api/machines/${m.id}`);
      expect(none.status).toBe(401);
      expect(none.headers.get("www-authenticate")).toContain("Bearer");
      const wrong = await t.request("DELETE", `/api/machines/${m.id}`, { headers: { authorization: "Bearer not-the-admin-token-at-all" } });
      expect(wrong.status).toBe(403);
      expect(await t.request("GET", `/api/machines/${m.id}`).then((r) => r.status)).toBe(200);

      const before = t.changes?.length ?? 0;
      const ok = await t.request("DELETE", `/api/machines/${m.id}`, { headers: admin });
      expect(ok.status).toBe(204);
      expect((await t.request("GET", `/api/machines/${m.id}`)).status).toBe(404);
      if (t.changes) expect(t.changes.slice(before)).toEqual([{ type: "machine_deleted", machine_id: m.id }]);

      const { items } = await (await t.request("GET", `/api/events?machine_id=${m.id}&kind=deleted`)).json();
      expect(items).toHaveLength(1);
      expect(items[0].details.machine).toMatchObject({ id: m.id, hostname: "node-10", ip_address: "127.2.0.10", extra_data: { vni: 42 } });

      expect((await t.request("DELETE", `/api/machines/${m.id}`, { headers: admin })).status).toBe(404);
    });

    test("the machine limit under a storm: exactly 5 places taken by 260 new registrations at once (3 IPs 20 times each), the rest 503", async () => {
      const current = await count(t);
      const limit = MAX_MACHINES;
      for (let i = current; i < limit - 5; i++) await t.request("PUT", `/api/machines/${loopbackIp(100 + i)}`, { json: machineBody(100 + i) });
      expect(await count(t)).toBe(limit - 5);

      // 200 distinct new IPs, and 3 more sent 20 times each, spread through the burst.
      const ips = Array.from({ length: 260 }, (_, i) => loopbackIp(i % 13 === 0 ? 1000 + ((i / 13) % 3) : 500 + i));
      const results = await Promise.all(ips.map((ip, i) => t.request("PUT", `/api/machines/${ip}`, { json: machineBody(500 + i) })));
      const statuses = results.map((r) => r.status);
      expect(statuses.filter((s) => s === 201)).toHaveLength(5);
      expect(statuses.every((s) => s === 201 || s === 200 || s === 503)).toBe(true);
      expect(await count(t)).toBe(limit);
      for (const r of results.filter((r) => r.status === 503)) {
        expect(await r.json()).toMatchObject({ error: "machine_limit" });
        expect(r.headers.get("retry-after")).toBe("3600");
      }
      // An IP is stored exactly when one of its requests got 201; its other copies got 200 then, 503 otherwise.
      const stored = new Set((await t.db.query<{ ip: string }>("SELECT host(ip_address) AS ip FROM machines")).map((r) => r.ip));
      for (const ip of new Set(ips)) {
        const mine = statuses.filter((_, i) => ips[i] === ip);
        if (stored.has(ip)) expect(mine.filter((s) => s !== 200)).toEqual([201]);
        else expect(mine.every((s) => s === 503)).toBe(true);
      }

      const update = await t.request("PUT", "/api/machines/127.2.0.1", { json: { hostname: "still-ok", mac_address: "52:54:00:00:00:01" } });
      expect(update.status).toBe(200);
    });

    test("the same new IP registered 30 times at once: one machine, one 201", async () => {
      await t.db.query("DELETE FROM machines WHERE ip_address << '127.1.0.0/16'::inet"); // make room under the limit
      const results = await Promise.all(Array.from({ length: 30 }, () => t.request("PUT", "/api/machines/127.3.0.1", { json: machineBody(77) })));
      const statuses = results.map((r) => r.status).sort();
      expect(statuses.filter((s) => s === 201)).toHaveLength(1);
      expect(statuses.filter((s) => s === 200)).toHaveLength(29);
      const [{ n }] = (await t.db.query<{ n: number }>("SELECT count(*)::int AS n FROM machines WHERE ip_address = '127.3.0.1'")) as [{ n: number }];
      expect(n).toBe(1);
    });
  });
}
