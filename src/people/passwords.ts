// Passwords: a policy a person can follow (long enough, not a well-known one, not the user
// name), hashed with argon2id by Bun.password. The policy is NIST SP 800-63B's: length over
// character-class rules, and a check against passwords attackers try first.
import { COMMON_PASSWORDS } from "./common-passwords.ts";

export const MIN_PASSWORD_LENGTH = 10;
export const MAX_PASSWORD_LENGTH = 256;

/** Why a new password is refused, in words for the person choosing it; null when it is fine. */
export function passwordProblem(password: string, username: string): string | null {
  const length = [...password].length;
  if (length < MIN_PASSWORD_LENGTH) return `must be at least ${MIN_PASSWORD_LENGTH} characters long`;
  if (length > MAX_PASSWORD_LENGTH) return `must be at most ${MAX_PASSWORD_LENGTH} characters long`;
  const folded = password.toLowerCase();
  if (COMMON_PASSWORDS.has(folded)) return "is one of the most common passwords; choose another";
  if (folded.includes(username.toLowerCase())) return "must not contain the user name";
  if (new Set(password).size < 4) return "must not repeat so few characters";
  return null;
}

export function hashPassword(password: string): Promise<string> {
  return Bun.password.hash(password, { algorithm: "argon2id" });
}

// A real hash of a random password, made once: verifying against it when the user does not
// exist costs what a real check costs, so the answer's timing does not say whether a user name
// exists.
let decoy: Promise<string> | undefined;

/** True when `password` matches `hash`; with no hash (no such user), the same work and false. */
export async function verifyPassword(password: string, hash: string | null): Promise<boolean> {
  if (hash === null) {
    decoy ??= hashPassword(crypto.randomUUID());
    await Bun.password.verify(password, await decoy).catch(() => false);
    return false;
  }
  return Bun.password.verify(password, hash).catch(() => false);
}
