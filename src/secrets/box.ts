// Secrets at rest: AES-256-GCM through WebCrypto, in a text form a database column can hold.
//
//   v1.<key id>.<iv>.<ciphertext and tag>        (base64url parts)
//
// The key id (first 4 bytes of the key's SHA-256, in hex) lets `open` tell "sealed under another
// key" from "altered", so the operator learns which key to restore instead of a bare failure.
// The AAD names the row a secret belongs to ("credential:3:private_key"): GCM authenticates it,
// so a sealed value copied into another row does not open there. The IV is 96 random bits per
// seal; at 2^32 seals under one key the collision risk would matter, far beyond a fleet's use.

const VERSION = "v1";
const KEY_BYTES = 32;
const IV_BYTES = 12;
const encoder = new TextEncoder();

export interface SecretBox {
  /** Identifies the key in sealed values and messages; reveals nothing usable about it. */
  readonly keyId: string;
  seal(plaintext: string, aad: string): Promise<string>;
  open(sealed: string, aad: string): Promise<string>;
}

/** Why a sealed value did not open. Messages never contain the secret or the key. */
export class SealedSecretError extends Error {
  override name = "SealedSecretError";
  constructor(
    readonly reason: "malformed" | "other-key" | "rejected",
    message: string,
  ) {
    super(message);
  }
}

/** A box around a 32-byte key; the key is imported non-extractable and not kept otherwise. */
export async function createSecretBox(rawKey: Uint8Array): Promise<SecretBox> {
  if (rawKey.byteLength !== KEY_BYTES) throw new RangeError(`a secret key is exactly ${KEY_BYTES} bytes`);
  const keyId = await keyIdOf(rawKey);
  const key = await crypto.subtle.importKey("raw", new Uint8Array(rawKey), "AES-GCM", false, ["encrypt", "decrypt"]);
  return {
    keyId,
    seal: (plaintext, aad) => seal(key, keyId, plaintext, aad),
    open: (sealed, aad) => open(key, keyId, sealed, aad),
  };
}

export async function keyIdOf(rawKey: Uint8Array): Promise<string> {
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", new Uint8Array(rawKey)));
  return Buffer.from(digest.subarray(0, 4)).toString("hex");
}

async function seal(key: CryptoKey, keyId: string, plaintext: string, aad: string): Promise<string> {
  const iv = crypto.getRandomValues(new Uint8Array(IV_BYTES));
  const params = { name: "AES-GCM", iv, additionalData: encoder.encode(aad) };
  const ciphertext = new Uint8Array(await crypto.subtle.encrypt(params, key, encoder.encode(plaintext)));
  return [VERSION, keyId, base64url(iv), base64url(ciphertext)].join(".");
}

async function open(key: CryptoKey, keyId: string, sealed: string, aad: string): Promise<string> {
  const parts = parseSealed(sealed);
  if (parts.keyId !== keyId) {
    throw new SealedSecretError(
      "other-key",
      `the secret for ${aad} was sealed under another key (id ${parts.keyId}; the key in use is ${keyId}): ` +
        "set SECRET_KEY to the key it was sealed with, or restore DATA_DIR/secret.key",
    );
  }
  try {
    const params = { name: "AES-GCM", iv: parts.iv, additionalData: encoder.encode(aad) };
    return new TextDecoder("utf-8", { fatal: true }).decode(await crypto.subtle.decrypt(params, key, parts.ciphertext));
  } catch {
    throw new SealedSecretError("rejected", `the secret for ${aad} does not open: it was altered, or it belongs to another row`);
  }
}

/** The key id a sealed value names, or null when it is not a sealed value at all. */
export function sealedKeyId(sealed: string): string | null {
  try {
    return parseSealed(sealed).keyId;
  } catch {
    return null;
  }
}

const SEALED = /^v1\.([0-9a-f]{8})\.([\w-]{16})\.([\w-]{22,})$/;

function parseSealed(sealed: string): { keyId: string; iv: Uint8Array<ArrayBuffer>; ciphertext: Uint8Array<ArrayBuffer> } {
  const m = SEALED.exec(sealed);
  if (!m) throw new SealedSecretError("malformed", `not a sealed secret (expected ${VERSION}.<key id>.<iv>.<ciphertext>)`);
  const bytes = (text: string) => new Uint8Array(Buffer.from(text, "base64url"));
  return { keyId: m[1]!, iv: bytes(m[2]!), ciphertext: bytes(m[3]!) };
}

function base64url(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString("base64url");
}
