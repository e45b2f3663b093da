// The grouping stage's rules, in-process on both databases, with transitions written the way the
// monitor writes them (an event row: the trigger does the rest) and a real HTTP receiver:
// channel filters, registrations/deletions/MAC changes, reminders, recoveries (told only for
// announced outages, held by silences, never lost), disabled channels, rate limits, failures.
// The same pipeline with the real monitor and test hosts runs on the binary in pipeline.test.ts.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { randomBytes } from "node:crypto";
import { ADMIN_TOKEN, loopbackIp, machineBody, STORAGE_KINDS, testApp, type TestApp } from "../helpers/app.ts";
import { startHttpReceiver, type HttpReceiver } from "../helpers/receivers.ts";
import { waitFor } from "../helpers/wait.ts";

const SECRET = `whsec_${randomBytes(24).toString("base64")}`;
const admin = { authorization: `Bearer ${ADMIN_TOKEN}` };

interface Message {
  kind: string;
  title: string;
  group: { by: string; value: string };
  total: number;
  machines: { id: number; detail?: string; outage_seconds: number | null }[];
}

for (const kind of STORAGE_KINDS) {
  describe(`dispatching (${kind})`, () => {
    let t: TestApp;
    let receiver: HttpReceiver;
    let n = 0;

    beforeAll(async () => {
      receiver = await startHttpReceiver({ secret: SECRET });
      t = await testApp(kind, { GROUP_WAIT: "300ms", GROUP_INTERVAL: "300ms", REPEAT_INTERVAL: "1500ms", NOTIFY_RETRY_BASE: "100ms", NOTIFY_MAX_ATTEMPTS: "2" });
    }, 60_000);
    afterAll(async () => {
      await t.close();
      await receiver.stop();
    });

    const call = async (method: string, path: string, json?: unknown) => {
      const res = await t.request(method, path, { json, headers: admin });
      return { status: res.status, json: res.status === 204 ? null : await res.json() };
    };
    /** A channel whose messages arrive at /hook/<name> on the receiver. */
    const channel = async (name: string, events: string[], extra: Record<string, unknown> = {}) => {
      const res = await call("POST", "/api/channels", { name, kind: "webhook", settings: { url: `${receiver.url}/hook/${name}`, secret: SECRET }, events, ...extra });
      expect(res.status).toBe(201);
      return res.json.id as number;
    };
    const machine = async (extra: Record<string, unknown> = {}) => {
      n++;
      const res = await call("PUT", `/api/machines/${loopbackIp(4000 + n)}`, machineBody(4000 + n, extra));
      return res.json as { id: number };
    };
    /** The monitor's write of a transition: an event row (the trigger queues the fact) and the status. */
    const transition = async (id: number, to: "unreachable" | "recovered") => {
      // One transaction, as the monitor's StateWriter does: the dispatcher never sees the event without the status.
      await t.db.transaction(async (tx) => {
        await tx.query(
          `INSERT INTO events (kind, machine_id, ip_address, hostname, details, actor) SELECT $2, id, ip_address, hostname, '{}', 'monitor' FROM machines WHERE id = $1`,
          [id, to],
        );
        await tx.query("UPDATE machines SET status = $2 WHERE id = $1", [id, to === "unreachable" ? "unreachable" : "active"]);
      });
      t.app.notifications.poke();
    };
    const inbox = (name: string): Message[] => receiver.requests.filter((r) => r.path === `/hook/${name}`).map((r) => JSON.parse(r.body));
    const settle = () => Bun.sleep(900); // three GROUP_WAITs: nothing more is coming

    test("a channel hears only the machines its filter selects (labels: all of them; groups: any of them)", async () => {
      await channel("db-only", ["unreachable"], { filter: { labels: ["role=db"] } });
      await channel("vni-77", ["unreachable"], { filter: { groups: ["vni 77"] } });
      const db = await machine({ labels: ["role=db", "rack=r1"] });
      const web = await machine({ labels: ["role=web"], extra_data: { vni: 77 } });
      await transition(db.id, "unreachable");
      await transition(web.id, "unreachable");
      await waitFor("both channels", () => inbox("db-only").length && inbox("vni-77").length, 10_000);
      await settle();
      // Reminders (REPEAT_INTERVAL) may follow on a slow machine: the announcements are what count.
      const announced = (name: string) => inbox(name).filter((m) => m.kind === "unreachable").map((m) => m.machines.map((x) => x.id));
      expect(announced("db-only")).toEqual([[db.id]]);
      expect(announced("vni-77")).toEqual([[web.id]]);
      expect(inbox("db-only").concat(inbox("vni-77")).every((m) => m.kind === "unreachable" || m.kind === "still_unreachable")).toBe(true);
      await transition(db.id, "recovered");
      await transition(web.id, "recovered");
    });

    test("registrations, MAC changes and deletions, when a channel asks for them, grouped like outages", async () => {
      await channel("inventory", ["registered", "deleted", "mac_changed"], { filter: { groups: ["vni 88"] } });
      const three = [await machine({ extra_data: { vni: 88 } }), await machine({ extra_data: { vni: 88 } }), await machine({ extra_data: { vni: 88 } })];
      await waitFor("the registrations", () => inbox("inventory").length, 10_000);
      await settle();
      expect(inbox("inventory").map((m) => [m.kind, m.total])).toEqual([["registered", 3]]);
      const ip = loopbackIp(4000 + n);
      await call("PUT", `/api/machines/${ip}`, { ...machineBody(4000 + n), mac_address: "52:54:00:ff:ee:dd", extra_data: { vni: 88 } });
      await call("DELETE", `/api/machines/${three[0]!.id}`);
      await waitFor("the change and the deletion", () => inbox("inventory").length >= 3, 10_000);
      const changed = inbox("inventory").find((m) => m.kind === "mac_changed")!;
      expect(changed.machines[0]!.detail).toMatch(/^MAC 52:54:00:\S+ → 52:54:00:ff:ee:dd$/);
      expect(inbox("inventory").find((m) => m.kind === "deleted")!.machines.map((x) => x.id)).toEqual([three[0]!.id]);
    });

    test("down, then a reminder every REPEAT_INTERVAL while it stays down; back: the recovery, and reminders stop", async () => {
      await channel("pager", ["unreachable", "recovered"], { filter: { labels: ["pager=yes"] } });
      const m = await machine({ labels: ["pager=yes"] });
      await transition(m.id, "unreachable");
      await waitFor("a reminder", () => inbox("pager").some((x) => x.kind === "still_unreachable"), 10_000);
      expect(inbox("pager")[0]!.kind).toBe("unreachable");
      await transition(m.id, "recovered");
      await waitFor("the recovery", () => inbox("pager").some((x) => x.kind === "recovered"), 10_000);
      const count = inbox("pager").length;
      await Bun.sleep(2000); // past another REPEAT_INTERVAL
      expect(inbox("pager")).toHaveLength(count);
      expect(inbox("pager").at(-1)!.kind).toBe("recovered");
    });

    test("back within GROUP_WAIT: nothing was announced, so nothing is told at all", async () => {
      await channel("blink", ["unreachable", "recovered"], { filter: { labels: ["blink=yes"] } });
      const m = await machine({ labels: ["blink=yes"] });
      await transition(m.id, "unreachable");
      await transition(m.id, "recovered");
      await settle();
      expect(inbox("blink")).toEqual([]);
    });

    test("an announced outage that recovers during a silence: the recovery is held, then told when the silence ends", async () => {
      await channel("held", ["unreachable", "recovered"], { filter: { labels: ["held=yes"] } });
      const m = await machine({ labels: ["held=yes"] });
      await transition(m.id, "unreachable");
      await waitFor("the down message", () => inbox("held").length === 1, 10_000);
      const silence = await call("POST", "/api/silences", { labels: ["held=yes"], duration_seconds: 2 });
      expect(silence.status).toBe(201);
      await transition(m.id, "recovered");
      await settle();
      expect(inbox("held").map((x) => x.kind)).toEqual(["unreachable"]);
      await waitFor("the held recovery", () => inbox("held").length === 2, 10_000);
      expect(inbox("held")[1]!.kind).toBe("recovered");
      expect(Date.now()).toBeGreaterThanOrEqual(Date.parse(silence.json.ends_at) - 50);
    });

    test("a disabled channel sends nothing; a channel over its rate waits its turn; a 4xx fails at once", async () => {
      const off = await channel("off", ["unreachable"], { enabled: false, filter: { labels: ["misc=yes"] } });
      const slow = await channel("slow", ["unreachable"], { max_per_minute: 1, filter: { labels: ["misc=yes"] } });
      const a = await machine({ labels: ["misc=yes"], extra_data: { vni: 501 } });
      const b = await machine({ labels: ["misc=yes"], extra_data: { vni: 502 } });
      await transition(a.id, "unreachable");
      await transition(b.id, "unreachable");
      await waitFor("one of two", () => inbox("slow").length === 1, 10_000);
      await settle();
      expect(inbox("slow")).toHaveLength(1); // the second waits for the next minute
      // The receiver has the first; its record may be written a moment later on a loaded machine.
      // (Reminders, every REPEAT_INTERVAL, queue up behind them: only the two announcements count.)
      const statuses = async () =>
        (await call("GET", `/api/notifications?channel_id=${slow}`)).json.items
          .filter((x: { kind: string }) => x.kind === "unreachable").map((x: { status: string }) => x.status).sort().join();
      await waitFor("one sent, one waiting", async () => (await statuses()) === "pending,sent", 10_000);
      await settle();
      expect(await statuses()).toBe("pending,sent");
      expect(inbox("off")).toEqual([]);
      expect((await call("GET", `/api/notifications?channel_id=${off}`)).json.items).toEqual([]);

      receiver.script([{ status: 410, body: "gone" }], "/hook/gone"); // not a late message of another channel
      const gone = await channel("gone", ["unreachable"], { filter: { labels: ["gone=yes"] } });
      const c = await machine({ labels: ["gone=yes"] });
      await transition(c.id, "unreachable");
      const failedOf = async () => (await call("GET", `/api/notifications?channel_id=${gone}&status=failed`)).json.items;
      await waitFor("the failure", async () => (await failedOf()).length > 0, 10_000);
      const [failed] = await failedOf();
      expect(failed).toMatchObject({ channel_name: "gone", attempts: 1, last_status: "410" });
    });
  });
}
