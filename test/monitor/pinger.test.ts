// The ICMP engine on real sockets: loopback (every 127.0.0.0/8 address answers on Linux, ::1
// over ICMPv6) and test hosts in network namespaces (198.18.0.0/15) for silence and errors.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { AF_INET, ICMP6_FILTER, ICMP_FILTER, IPPROTO_ICMP, IPPROTO_ICMPV6, libc, SOCK_RAW, SOL_RAW } from "../../src/monitor/libc.ts";
import { checksum, newEchoRequest, setEchoIdSeq } from "../../src/monitor/packet.ts";
import { Pinger, type Probe, type ProbeResult } from "../../src/monitor/pinger.ts";
import { encodeSockaddr, parseTarget } from "../../src/monitor/sockaddr.ts";
import { createTestHost, destroyAllTestHosts, type TestHost } from "../helpers/netns.ts";
import { needs } from "../helpers/requirements.ts";

const canRaw = needs("root");
const canNetns = canRaw && needs("netns");

/** 127.1.0.0 upward: distinct loopback addresses. */
const loopback = (n: number) => Array.from({ length: n }, (_, i) => `127.1.${i >> 8}.${i & 255}`);

describe.skipIf(!canRaw)("Pinger on loopback", () => {
  let pinger: Pinger;
  beforeAll(async () => {
    pinger = await Pinger.open({ maxInFlight: 500 });
  });
  afterAll(() => pinger?.close());

  test("opens raw sockets as root", () => {
    expect(pinger.modes).toEqual({ v4: "raw", v6: "raw" });
    expect(pinger.mode).toBe("raw");
    // ~1 KiB per reply in flight (the kernel reports double what was set).
    expect(pinger.receiveBufferBytes).toBeGreaterThanOrEqual(500 * 1024);
  });

  test("the kernel passes only echo replies and the errors that can answer them", () => {
    const fds = pinger as unknown as { v4: { socket: { fd: number } }; v6: { socket: { fd: number } } };
    const mask = new Uint32Array(1);
    expect(libc.getsockopt(fds.v4.socket.fd, SOL_RAW, ICMP_FILTER, mask, new Uint32Array([4]))).toBe(0);
    const passed4 = [...Array(32).keys()].filter((t) => !(mask[0]! & (1 << t)));
    expect(passed4).toEqual([0, 3, 11]); // echo reply, destination unreachable, time exceeded
    const filter6 = new Uint32Array(8);
    expect(libc.getsockopt(fds.v6.socket.fd, IPPROTO_ICMPV6, ICMP6_FILTER, filter6, new Uint32Array([32]))).toBe(0);
    const passed6 = [...Array(256).keys()].filter((t) => !(filter6[t >> 5]! & (1 << (t & 31))));
    expect(passed6).toEqual([1, 3, 129]);
  });

  test("2,000 distinct addresses with the cap at 500: all reply, never more than 500 in flight", async () => {
    const before = { ...pinger.stats };
    let maxInFlight = 0;
    const watch = () => (maxInFlight = Math.max(maxInFlight, pinger.inFlight));
    const results = await Promise.all(
      loopback(2000).map((ip) => {
        const p = pinger.probe(ip, 2000).then((r) => (watch(), r));
        watch();
        return p;
      }),
    );
    expect(results.filter((r) => r.outcome !== "reply")).toEqual([]);
    expect(results.map((r) => r.ip)).toEqual(loopback(2000));
    for (const r of results) expect(r.rttMs).toBeGreaterThanOrEqual(0);
    expect(maxInFlight).toBe(500);
    expect(pinger.inFlight).toBe(0);
    expect(pinger.stats.sent - before.sent).toBe(2000);
    expect(pinger.stats.replies - before.replies).toBe(2000);
  });

  test("::1 over ICMPv6, and an IPv4-mapped address over ICMPv4", async () => {
    const [v6, mapped] = await Promise.all([pinger.probe("::1", 2000), pinger.probe("::ffff:127.0.0.1", 2000)]);
    expect(v6).toMatchObject({ ip: "::1", outcome: "reply" });
    expect(v6.rttMs).toBeGreaterThanOrEqual(0);
    expect(mapped).toMatchObject({ ip: "::ffff:127.0.0.1", outcome: "reply" });
  });

  test("waiting probes get slots first come, first served", async () => {
    const one = await Pinger.open({ maxInFlight: 1 });
    try {
      const order: string[] = [];
      const ips = loopback(20);
      await Promise.all(ips.map((ip) => one.probe(ip, 2000).then((r) => order.push(r.ip))));
      expect(order).toEqual(ips);
    } finally {
      await one.close();
    }
  });

  test("RTT excludes time the main thread was busy: the Worker stamps replies", async () => {
    await pinger.probe("127.0.0.1", 2000); // warm up
    const pending = pinger.probe("127.0.0.1", 100);
    const until = performance.now() + 200;
    while (performance.now() < until) {
      // block the event loop for longer than the probe's timeout
    }
    const r = await pending;
    // It answered within microseconds; only a reply timed on another thread shows that.
    expect(r.outcome).toBe("reply");
    expect(r.rttMs!).toBeLessThan(100);
  });

  test("a malformed address or timeout is a programming error: rejected", async () => {
    await expect(pinger.probe("not-an-ip", 100)).rejects.toThrow(TypeError);
    await expect(pinger.probe("127.0.0.1", Number.NaN)).rejects.toThrow(RangeError);
    await expect(pinger.probe("127.0.0.1", 0)).rejects.toThrow(RangeError);
  });
});

describe.skipIf(!canRaw)("matching replies to probes", () => {
  test("two Pingers at once never take each other's replies", async () => {
    const [a, b] = await Promise.all([Pinger.open({ maxInFlight: 200 }), Pinger.open({ maxInFlight: 200 })]);
    try {
      const ips = loopback(600);
      const [ra, rb] = await Promise.all([Promise.all(ips.map((ip) => a.probe(ip, 2000))), Promise.all(ips.map((ip) => b.probe(ip, 2000)))]);
      for (const rs of [ra, rb]) expect(rs.filter((r) => r.outcome !== "reply")).toEqual([]);
      expect(a.stats).toMatchObject({ sent: 600, replies: 600, timeouts: 0 });
      expect(b.stats).toMatchObject({ sent: 600, replies: 600, timeouts: 0 });
    } finally {
      await Promise.all([a.close(), b.close()]);
    }
  });

  test.skipIf(!canNetns)("a reply counts only from the address probed", async () => {
    const host = await createTestHost();
    const pinger = await Pinger.open({ maxInFlight: 10 });
    try {
      await host.stopAnswering();
      // Forged echo replies with the right id and sequence, delivered to this machine.
      const wrong = pinger.probe(host.ip, 500);
      injectEchoReply({ from: host.hostIp, to: host.hostIp, ...outstandingIdSeq(pinger, host.ip) });
      expect((await wrong).outcome).toBe("timeout");
      const right = pinger.probe(host.ip, 2000);
      injectEchoReply({ from: host.ip, to: host.hostIp, ...outstandingIdSeq(pinger, host.ip) });
      expect((await right).outcome).toBe("reply"); // the control: the forgery itself works
    } finally {
      await pinger.close();
      await host.destroy();
    }
  });
});

describe.skipIf(!canNetns)("Pinger against namespace hosts", () => {
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

  test("a silent host times out, and the slot is freed", async () => {
    expect((await pinger.probe(host.ip, 2000)).outcome).toBe("reply");
    await host.stopAnswering();
    const r = await pinger.probe(host.ip, 200);
    expect(r).toEqual({ ip: host.ip, outcome: "timeout", rttMs: null });
    expect(pinger.inFlight).toBe(0);
    await host.answerAgain();
  });

  test("an ICMP host-unreachable error is matched to its probe, with who sent it", async () => {
    const target = await host.unreachableBehind();
    const r = await pinger.probe(target, 2000);
    expect(r).toEqual({ ip: target, outcome: "unreachable", rttMs: null, detail: `host unreachable from ${host.ip}` });
  });

  test("close() resolves pending and waiting probes as timeouts", async () => {
    const one = await Pinger.open({ maxInFlight: 1 });
    await host.stopAnswering();
    const pending: Promise<ProbeResult>[] = [one.probe(host.ip, 10_000), one.probe("127.0.0.1", 10_000)];
    await Bun.sleep(20);
    expect(one.inFlight).toBe(1);
    await one.close();
    for (const r of await Promise.all(pending)) expect(r).toMatchObject({ outcome: "timeout", rttMs: null, detail: "pinger closed" });
    await expect(one.probe("127.0.0.1", 100)).rejects.toThrow(/closed/);
    await host.answerAgain();
  });
});

/** White-box: the echo id and sequence the Pinger used for its one probe to `ip`. */
function outstandingIdSeq(pinger: Pinger, ip: string): { id: number; seq: number } {
  const v4 = (pinger as unknown as { v4: { id: number; bySeq: (Probe | undefined)[] } }).v4;
  const seq = v4.bySeq.findIndex((p) => p?.ip === ip);
  expect(seq).toBeGreaterThanOrEqual(0);
  return { id: v4.id, seq };
}

const IPPROTO_RAW = 255;

/** Send an ICMP echo reply with any source address (IP_HDRINCL) to a local address. */
function injectEchoReply(r: { from: string; to: string; id: number; seq: number }): void {
  const icmp = newEchoRequest(4);
  setEchoIdSeq(icmp, 4, r.id, r.seq);
  icmp[0] = 0; // echo reply
  icmp[2] = icmp[3] = 0;
  const sum = checksum(icmp);
  icmp.set([sum >> 8, sum & 0xff], 2);
  const src = parseTarget(r.from)!.bytes;
  const dst = parseTarget(r.to)!.bytes;
  // IPv4 header; the kernel fills in total length, id and header checksum.
  const pkt = new Uint8Array(20 + icmp.length);
  pkt.set([0x45, 0, 0, 0, 0, 0, 0x40, 0, 64, IPPROTO_ICMP, 0, 0]);
  pkt.set(src, 12);
  pkt.set(dst, 16);
  pkt.set(icmp, 20);
  const fd = libc.socket(AF_INET, SOCK_RAW, IPPROTO_RAW);
  expect(fd).toBeGreaterThanOrEqual(0);
  try {
    const sa = encodeSockaddr({ family: 4, bytes: dst, scopeId: 0 });
    expect(Number(libc.sendto(fd, pkt, pkt, 0, sa, sa.length))).toBe(pkt.length);
  } finally {
    libc.close(fd);
  }
}
