import { describe, expect, test } from "bun:test";
import { dlopen, FFIType } from "bun:ffi";
import { isIPv4, isIPv6 } from "node:net";
import { encodeSockaddr, formatAddress, parseTarget, sockaddrAddress, sockaddrPort } from "../../src/monitor/sockaddr.ts";

const hex = (b: Uint8Array) => Buffer.from(b).toString("hex");

describe("parseTarget", () => {
  test("IPv4", () => {
    expect(parseTarget("198.18.0.5")).toEqual({ family: 4, bytes: Uint8Array.from([198, 18, 0, 5]), scopeId: 0 });
    expect(parseTarget("0.0.0.0")?.bytes).toEqual(new Uint8Array(4));
    expect(parseTarget("255.255.255.255")?.bytes).toEqual(new Uint8Array(4).fill(255));
  });

  test("IPv6 forms", () => {
    expect(hex(parseTarget("::1")!.bytes)).toBe("00000000000000000000000000000001");
    expect(hex(parseTarget("fd00::1:2")!.bytes)).toBe("fd000000000000000000000000010002");
    expect(hex(parseTarget("1:2:3:4:5:6:7:8")!.bytes)).toBe("00010002000300040005000600070008");
    expect(hex(parseTarget("64:ff9b::198.18.0.1")!.bytes)).toBe("0064ff9b0000000000000000c6120001");
    expect(parseTarget("fe80::1%7")).toMatchObject({ family: 6, scopeId: 7 });
    expect(parseTarget("fe80::1%lo", (zone) => (zone === "lo" ? 1 : 0))).toMatchObject({ scopeId: 1 });
  });

  test("IPv4-mapped IPv6 is pinged as IPv4", () => {
    expect(parseTarget("::ffff:127.0.0.1")).toEqual({ family: 4, bytes: Uint8Array.from([127, 0, 0, 1]), scopeId: 0 });
  });

  test("not an IP literal", () => {
    for (const bad of ["", "localhost", "1.2.3", "1.2.3.4.5", "256.0.0.1", "01.2.3.4", "1.2.3.4 ", "1..2.3", "::g", "1:2:3:4:5:6:7:8:9", "example.com"]) {
      expect(parseTarget(bad)).toBeUndefined();
    }
  });
});

// parseTarget parses IPv6 itself (node:net costs ~20 ms of CPU to load in each thread), so it is
// checked against node:net's isIPv6 (what it accepts) and glibc's inet_pton (the bytes) over
// strings made to sit on the edges: group counts around 8, "::" anywhere, IPv4 tails with bad
// parts, zones.
describe("parseTarget agrees with node:net and inet_pton", () => {
  const libc = dlopen("libc.so.6", { inet_pton: { args: [FFIType.i32, FFIType.cstring, FFIType.ptr], returns: FFIType.i32 } });
  const AF_INET6 = 10;
  const ptonV6 = (text: string): Uint8Array | undefined => {
    const out = new Uint8Array(16);
    return libc.symbols.inet_pton(AF_INET6, Buffer.from(text + "\0"), out) === 1 ? out : undefined;
  };

  // A small seeded generator (mulberry32): the same strings every run.
  let seed = 0x5eed;
  const random = () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const pick = <T,>(xs: readonly T[]): T => xs[Math.floor(random() * xs.length)]!;
  const group = () => pick(["0", "1", "ff", "FFFF", "abcd", "12345", "", "g", "0000", "fe80"]);
  const quad = () => [0, 1, 2, 3].map(() => pick(["0", "1", "127", "255", "256", "01", ""])).join(".");
  const candidate = (): string => {
    if (random() < 0.15) return Array.from({ length: Math.floor(random() * 14) }, () => pick([...":.%0123456789abcdefABCDEFgx"])).join("");
    const groups = Array.from({ length: Math.floor(random() * 10) }, group);
    if (random() < 0.6) groups.splice(Math.floor(random() * (groups.length + 1)), 0, random() < 0.1 ? "::" : "");
    let text = groups.join(":").replace(/:{3,}/g, random() < 0.8 ? "::" : ":::");
    if (random() < 0.3) text += (text === "" || text.endsWith(":") ? "" : ":") + quad();
    if (random() < 0.15) text += pick(["%7", "%eth0", "%", "%a%b", "%lo.5", "%é"]);
    return text;
  };

  test("accepts exactly what isIPv4/isIPv6 accept, and decodes IPv6 as inet_pton does", () => {
    let accepted = 0;
    for (let i = 0; i < 20_000; i++) {
      const text = candidate();
      const target = parseTarget(text);
      expect({ text, accepted: target !== undefined }).toEqual({ text, accepted: isIPv4(text) || isIPv6(text) });
      if (!target || isIPv4(text) || text.includes("%")) continue;
      accepted++;
      const bytes = ptonV6(text);
      expect({ text, bytes: target.bytes }).toEqual({ text, bytes: target.family === 4 ? bytes!.subarray(12) : bytes! });
    }
    // The generator must reach valid IPv6 often enough for the byte check to mean something.
    expect(accepted).toBeGreaterThan(500);
  });
});

describe("formatAddress (RFC 5952)", () => {
  test.each([
    ["::1", "::1"],
    ["::", "::"],
    ["2001:db8:0:0:1:0:0:1", "2001:db8::1:0:0:1"],
    ["2001:db8:0:1:1:1:1:1", "2001:db8:0:1:1:1:1:1"],
    ["FD00:0:0:0:0:0:0:0", "fd00::"],
  ])("%s -> %s", (input, expected) => {
    expect(formatAddress(parseTarget(input)!.bytes)).toBe(expected);
  });

  test("IPv4 and IPv4-mapped", () => {
    expect(formatAddress(Uint8Array.from([198, 18, 0, 1]))).toBe("198.18.0.1");
    expect(formatAddress(Uint8Array.from([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 255, 255, 198, 18, 0, 1]))).toBe("::ffff:198.18.0.1");
  });
});

describe("sockaddr", () => {
  test("sockaddr_in: family, port 0, address", () => {
    const sa = encodeSockaddr(parseTarget("198.18.0.5")!);
    expect(hex(sa)).toBe("02000000c612000500000000" + "00000000");
    expect(sockaddrAddress(sa)).toEqual(Uint8Array.from([198, 18, 0, 5]));
  });

  test("sockaddr_in6: family, address, scope id", () => {
    const sa = encodeSockaddr(parseTarget("fe80::1%258")!);
    expect(sa.length).toBe(28);
    expect(hex(sa.subarray(0, 2))).toBe("0a00");
    expect(hex(sockaddrAddress(sa))).toBe("fe800000000000000000000000000001");
    expect(hex(sa.subarray(24))).toBe("02010000");
  });

  test("port of a bound ping socket's name is read in network order", () => {
    expect(sockaddrPort(Uint8Array.from([2, 0, 0x12, 0x34, 0, 0, 0, 0]))).toBe(0x1234);
  });
});
