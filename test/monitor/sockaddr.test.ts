import { describe, expect, test } from "bun:test";
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
