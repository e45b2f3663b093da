// The namespace test hosts (test/helpers/netns.ts) as the scheduler and browser tests will use
// them: a host answers, goes silent, answers again; an address nobody routes is unreachable.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { spawnSync } from "node:child_process";
import { Pinger } from "../../src/monitor/pinger.ts";
import { createTestHost, destroyAllTestHosts, type TestHost } from "../helpers/netns.ts";
import { needs } from "../helpers/requirements.ts";

const ok = needs("root", "netns");

const ipOut = (...args: string[]) => spawnSync("ip", args, { encoding: "utf8" }).stdout;
const inTestRange = (ip: string) => /^198\.1[89]\.\d+\.\d+$/.test(ip);

describe.skipIf(!ok)("namespace test hosts", () => {
  let pinger: Pinger;
  let host: TestHost;
  beforeAll(async () => {
    pinger = await Pinger.open({ maxInFlight: 100 });
    host = await createTestHost();
  });
  afterAll(async () => {
    await pinger?.close();
    await destroyAllTestHosts();
  });

  test("gets addresses in 198.18.0.0/15 only, a MAC, and a name unique to this run", async () => {
    expect(inTestRange(host.ip) && inTestRange(host.hostIp) && inTestRange(host.unroutedIp)).toBe(true);
    expect(host.mac).toMatch(/^([0-9a-f]{2}:){5}[0-9a-f]{2}$/);
    expect(host.name).toStartWith(`vxt-${process.pid}-`);
    expect(await host.exec(["ip", "-4", "-o", "addr", "show"])).toContain(`${host.ip}/30`);
    // The safety net: nothing in the test range leaves the machine.
    expect(ipOut("route", "show", "type", "unreachable", "198.18.0.0/15")).toContain("198.18.0.0/15");
  });

  test("answers, stops answering, answers again", async () => {
    expect(await pinger.probe(host.ip, 2000)).toMatchObject({ outcome: "reply" });
    await host.stopAnswering();
    expect(await pinger.probe(host.ip, 300)).toEqual({ ip: host.ip, outcome: "timeout", rttMs: null });
    await host.answerAgain();
    expect(await pinger.probe(host.ip, 2000)).toMatchObject({ outcome: "reply" });
  });

  test("an address only the unreachable route covers is unreachable at once (EHOSTUNREACH on send)", async () => {
    const r = await pinger.probe(host.unroutedIp, 2000);
    expect(r).toEqual({ ip: host.unroutedIp, outcome: "unreachable", rttMs: null, detail: "no route to host (EHOSTUNREACH on send)" });
  });

  test("hosts are independent, and destroy() removes exactly one", async () => {
    const other = await createTestHost();
    expect(other.ip).not.toBe(host.ip);
    expect(ipOut("netns", "list")).toContain(other.name);
    await other.destroy();
    expect(ipOut("netns", "list")).not.toContain(other.name);
    expect(ipOut("netns", "list")).toContain(host.name);
    expect(await pinger.probe(host.ip, 2000)).toMatchObject({ outcome: "reply" });
  });
});
