// The random secrets people hold (session cookies, API tokens): made here, and known to the
// database only as their SHA-256 digest, so a copy of the database opens nothing.
import { createHash, randomBytes } from "node:crypto";

/** 32 random bytes, URL-safe: 256 bits, far past guessing. */
export const newSecret = (prefix = ""): string => prefix + randomBytes(32).toString("base64url");

export const digestOf = (secret: string): Buffer => createHash("sha256").update(secret).digest();
