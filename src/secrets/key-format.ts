// How a sealing key is written: in SECRET_KEY and in the key file. Kept apart from keyring.ts so
// that config.ts can check SECRET_KEY with the same rule without importing the keyring.

export const SECRET_KEY_ACCEPTS = "32 random bytes as 64 hex digits or as base64 (make one with `openssl rand -base64 32`)";

/** The value SECRET_KEY (or a key file) holds → the key, or undefined when it is not a key. */
export function parseSecretKey(raw: string): Uint8Array | undefined {
  const text = raw.trim();
  if (/^[0-9a-fA-F]{64}$/.test(text)) return Buffer.from(text, "hex");
  if (!/^[A-Za-z0-9+/_-]{43}=?$/.test(text)) return undefined; // 32 bytes are 43 base64 digits (+ "=")
  const bytes = Buffer.from(text.replaceAll("-", "+").replaceAll("_", "/"), "base64");
  return bytes.byteLength === 32 ? bytes : undefined;
}

/** How a key is written to a key file (and how SECRET_KEY can be given): base64 and a newline. */
export function encodeSecretKey(rawKey: Uint8Array): string {
  return `${Buffer.from(rawKey).toString("base64")}\n`;
}
