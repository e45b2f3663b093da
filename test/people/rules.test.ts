// The pure rules of people: the password policy, hashing, roles, and the login throttle's
// growing delays (on a clock the test moves).
import { describe, expect, test } from "bun:test";
import { hashPassword, passwordProblem, verifyPassword } from "../../src/people/passwords.ts";
import { atLeast, lowerOf } from "../../src/people/roles.ts";
import { LoginThrottle } from "../../src/people/throttle.ts";

describe("password policy", () => {
  test.each([
    ["a-long-enough-passphrase", null],
    ["correct horse battery staple", null],
    ["short", "at least 10 characters"],
    ["x".repeat(257), "at most 256"],
    ["1234567890", "most common"],
    ["Password123", "most common"],
    ["alice-is-here-2026", "must not contain the user name"],
    ["abababababab", "so few characters"],
  ])("%p → %p", (password, problem) => {
    const found = passwordProblem(password, "alice");
    if (problem === null) expect(found).toBeNull();
    else expect(found).toContain(problem);
  });

  test("length counts characters, not bytes", () => {
    expect(passwordProblem("ééééééééé", "bob")).toContain("at least 10"); // 9 characters, 18 bytes
  });

  test("argon2id hashes verify; a wrong password and a missing hash do not", async () => {
    const hash = await hashPassword("a-long-enough-passphrase");
    expect(hash).toStartWith("$argon2id$");
    expect(await verifyPassword("a-long-enough-passphrase", hash)).toBe(true);
    expect(await verifyPassword("a-long-enough-passphrasE", hash)).toBe(false);
    expect(await verifyPassword("anything", null)).toBe(false);
    expect(await verifyPassword("anything", "not a hash")).toBe(false);
  });
});

describe("roles", () => {
  test("each role can do what the ones below can", () => {
    expect(atLeast("admin", "operator")).toBe(true);
    expect(atLeast("operator", "viewer")).toBe(true);
    expect(atLeast("viewer", "operator")).toBe(false);
    expect(lowerOf("admin", "viewer")).toBe("viewer");
    expect(lowerOf("operator", "admin")).toBe("operator");
  });
});

describe("login throttle", () => {
  test("five failures are free; then 1 s, 2 s, 4 s … up to 15 min; a success clears the account", () => {
    let now = 1_000_000;
    const throttle = new LoginThrottle(() => now);
    for (let i = 0; i < 5; i++) {
      expect(throttle.waitFor("alice", "198.18.0.1")).toBe(0);
      throttle.failed("alice", "198.18.0.1");
    }
    expect(throttle.waitFor("alice", "198.18.0.9")).toBe(1000); // the account, from anywhere
    now += 1000;
    expect(throttle.waitFor("alice", "198.18.0.9")).toBe(0);
    throttle.failed("alice", "198.18.0.9");
    expect(throttle.waitFor("ALICE", "198.18.0.10")).toBe(2000); // names are not case-sensitive
    for (let i = 0; i < 20; i++) throttle.failed("alice", `198.18.1.${i}`);
    expect(throttle.waitFor("alice", "198.18.2.1")).toBe(15 * 60_000);
    throttle.succeeded("alice", "198.18.1.19");
    expect(throttle.waitFor("alice", "198.18.2.1")).toBe(0);
  });

  test("a good login clears its address's count too (one person's typos do not hold up a whole office behind NAT)", () => {
    const throttle = new LoginThrottle(() => 0);
    for (let i = 0; i < 6; i++) throttle.failed(`typo${i}`, "198.18.3.3");
    expect(throttle.waitFor("carol", "198.18.3.3")).toBeGreaterThan(0);
    throttle.succeeded("dave", "198.18.3.3");
    expect(throttle.waitFor("carol", "198.18.3.3")).toBe(0);
  });

  test("per client address too, whatever the names tried; forgotten an hour after the last failure", () => {
    let now = 0;
    const throttle = new LoginThrottle(() => now);
    for (let i = 0; i < 6; i++) throttle.failed(`user${i}`, "198.18.0.7");
    expect(throttle.waitFor("someone-else", "198.18.0.7")).toBe(2000);
    expect(throttle.waitFor("someone-else", "198.18.0.8")).toBe(0);
    now += 61 * 60_000;
    expect(throttle.waitFor("someone-else", "198.18.0.7")).toBe(0);
  });
});
