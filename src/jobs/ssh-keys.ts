// SSH keys as an operator sees them: the algorithm name and the "SHA256:…" fingerprint that
// `ssh-keygen -l` and OpenSSH's own messages print, so what vxman shows can be compared by eye.
import { createHash } from "node:crypto";
import type { AlgorithmList, ParsedKey, ServerHostKeyAlgorithm } from "ssh2";
import { lazyModule } from "../lazy-module.ts";

/** ssh2, loaded on first use (src/lazy-module.ts). */
export const ssh2 = lazyModule(() => require("ssh2") as typeof import("ssh2"));

export interface HostKey {
  /** The key type as it is named on the wire: ssh-ed25519, ecdsa-sha2-nistp256, ssh-rsa… */
  algorithm: string;
  /** "SHA256:<base64 without padding>", exactly as OpenSSH prints it. */
  fingerprint: string;
  /** Base64 of the wire-format public key (the middle field of a known_hosts line). */
  key: string;
}

/** The public key a server presented (wire format) as a HostKey. */
export function hostKeyFromWire(wire: Uint8Array): HostKey {
  return { algorithm: wireKeyType(wire), fingerprint: fingerprintOf(wire), key: Buffer.from(wire).toString("base64") };
}

export function fingerprintOf(wire: Uint8Array): string {
  return `SHA256:${createHash("sha256").update(wire).digest("base64").replace(/=+$/, "")}`;
}

/** A wire-format key starts with its type name as an SSH string (uint32 length + bytes). */
function wireKeyType(wire: Uint8Array): string {
  const view = new DataView(wire.buffer, wire.byteOffset, wire.byteLength);
  const length = wire.byteLength >= 4 ? view.getUint32(0) : 0;
  if (length === 0 || length > 64 || 4 + length > wire.byteLength) return "unknown";
  return new TextDecoder().decode(wire.subarray(4, 4 + length));
}

/** Whether the server presented the known key (compared as bytes: base64 spelling may vary). */
export function isSameHostKey(known: HostKey, seen: HostKey): boolean {
  return Buffer.from(known.key, "base64").equals(Buffer.from(seen.key, "base64"));
}

/**
 * Host key algorithms in the order to offer them when the server's key is known: the known
 * key's type first, so a server that also has keys of other types presents the known one
 * rather than being reported as changed (OpenSSH's client orders by known_hosts the same way).
 * The other types stay, so a server that lost that key type shows what it has now.
 */
export function preferHostKeyAlgorithmsOf(known: HostKey): AlgorithmList<ServerHostKeyAlgorithm> {
  // An RSA key is named ssh-rsa on the wire whatever hash signs with it.
  const first: ServerHostKeyAlgorithm[] =
    known.algorithm === "ssh-rsa" ? ["rsa-sha2-512", "rsa-sha2-256", "ssh-rsa"] : [known.algorithm as ServerHostKeyAlgorithm];
  // ssh2 applies these in key order: out of the default list, then in at its head.
  return { remove: first, prepend: first, append: [] };
}

export class PrivateKeyError extends Error {
  override name = "PrivateKeyError";
}

/**
 * Parse a private key (OpenSSH format, or PEM for RSA and ECDSA) and say what it is.
 * Throws PrivateKeyError with a message that never contains key material or the passphrase.
 */
export function describePrivateKey(privateKey: string, passphrase?: string): { algorithm: string; fingerprint: string } {
  const key = parsePrivateKey(privateKey, passphrase);
  return { algorithm: key.type, fingerprint: fingerprintOf(key.getPublicSSH()) };
}

export function parsePrivateKey(privateKey: string, passphrase?: string): ParsedKey {
  const parsed = ssh2().utils.parseKey(privateKey, passphrase || undefined);
  if (parsed instanceof Error) throw new PrivateKeyError(explainParseError(parsed.message, passphrase));
  // The OpenSSH format can hold several keys; OpenSSH itself only ever writes one.
  const key = Array.isArray(parsed) ? (parsed[0] as ParsedKey | undefined) : parsed;
  if (!key) throw new PrivateKeyError("the private key file holds no key");
  if (!key.isPrivateKey()) throw new PrivateKeyError("this is a public key: paste the private key (the file without .pub)");
  return key;
}

// Decrypting a passphrase-protected OpenSSH key runs bcrypt in JavaScript: ~250 ms with the
// event loop blocked. A job on 20 hosts with one credential would pay that 20 times, so a
// decrypted key is reused for a minute. It holds nothing the caller does not already hold
// (the encrypted key and its passphrase), keyed by a hash of both.
const DECRYPTED_TTL_MS = 60_000;
const DECRYPTED_MAX = 32;
const decrypted = new Map<string, { key: ParsedKey; expires: number }>();

/** parsePrivateKey, remembering decrypted keys for a minute (see above). */
export function parsePrivateKeyReusing(privateKey: string, passphrase?: string): ParsedKey {
  if (!passphrase) return parsePrivateKey(privateKey);
  const id = createHash("sha256").update(privateKey).update("\0").update(passphrase).digest("hex");
  const now = Date.now();
  const hit = decrypted.get(id);
  if (hit && hit.expires > now) return hit.key;
  const key = parsePrivateKey(privateKey, passphrase);
  for (const [k, entry] of decrypted) if (entry.expires <= now || decrypted.size >= DECRYPTED_MAX) decrypted.delete(k);
  decrypted.set(id, { key, expires: now + DECRYPTED_TTL_MS });
  return key;
}

/** ssh2's messages are accurate but terse; they name no key material, only what went wrong. */
function explainParseError(message: string, passphrase: string | undefined): string {
  if (/no passphrase given/i.test(message)) return "the private key is encrypted: a passphrase is needed";
  if (/bad passphrase/i.test(message) || (passphrase && /integrity check failed|bad decrypt/i.test(message))) {
    return "the private key's passphrase is wrong";
  }
  if (/unsupported/i.test(message)) return `the private key is of a kind vxman cannot use (${message})`;
  return "the private key could not be read: expected an OpenSSH private key, or PEM for RSA or ECDSA";
}
