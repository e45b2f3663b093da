import { describe, expect, test } from "bun:test";
import { createSecretBox, SealedSecretError, sealedKeyId, type SecretBox } from "../../src/secrets/box.ts";
import { generateKey } from "../../src/secrets/keyring.ts";

const AAD = "credential:3:private_key";
const newBox = () => createSecretBox(generateKey());

/** The error `open` throws, for assertions on its reason and message. */
async function openError(box: SecretBox, sealed: string, aad = AAD): Promise<SealedSecretError> {
  try {
    await box.open(sealed, aad);
  } catch (err) {
    if (err instanceof SealedSecretError) return err;
    throw err;
  }
  throw new Error("expected open to fail");
}

/** Change one base64url digit of part `index` (2: IV, 3: ciphertext and tag). */
function tamper(sealed: string, index: number): string {
  const parts = sealed.split(".");
  const part = parts[index]!;
  parts[index] = part.slice(0, 5) + (part[5] === "A" ? "B" : "A") + part.slice(6);
  return parts.join(".");
}

describe("secret box", () => {
  test("round trip, including empty, unicode and large values", async () => {
    const box = await newBox();
    for (const text of ["", "hunter2", "pässwörd ✓ 🔑", "-----BEGIN OPENSSH PRIVATE KEY-----\n".padEnd(64 * 1024, "x")]) {
      expect(await box.open(await box.seal(text, AAD), AAD)).toBe(text);
    }
  });

  test("the sealed text is versioned, names its key, and never repeats (random IV)", async () => {
    const box = await newBox();
    const [a, b] = [await box.seal("same", AAD), await box.seal("same", AAD)];
    expect(a).toMatch(new RegExp(`^v1\\.${box.keyId}\\.[\\w-]{16}\\.[\\w-]+$`));
    expect(a).not.toBe(b);
    expect(a.split(".")[2]).not.toBe(b.split(".")[2]);
    expect(sealedKeyId(a)).toBe(box.keyId);
    expect(a).not.toContain("same");
  });

  test("the wrong AAD (a value copied to another row) does not open", async () => {
    const box = await newBox();
    const sealed = await box.seal("hunter2", AAD);
    const err = await openError(box, sealed, "credential:4:private_key");
    expect(err.reason).toBe("rejected");
    expect(err.message).toBe("the secret for credential:4:private_key does not open: it was altered, or it belongs to another row");
  });

  test("a tampered IV or ciphertext does not open", async () => {
    const box = await newBox();
    const sealed = await box.seal("hunter2", AAD);
    for (const part of [2, 3]) expect((await openError(box, tamper(sealed, part))).reason).toBe("rejected");
  });

  test("a value sealed under another key says which key, and what to do", async () => {
    const [mine, theirs] = [await newBox(), await newBox()];
    const err = await openError(mine, await theirs.seal("hunter2", AAD));
    expect(err.reason).toBe("other-key");
    expect(err.message).toContain(`sealed under another key (id ${theirs.keyId}; the key in use is ${mine.keyId})`);
    expect(err.message).toContain("set SECRET_KEY to the key it was sealed with, or restore DATA_DIR/secret.key");
  });

  test("something that is not a sealed value is refused without being repeated", async () => {
    const box = await newBox();
    for (const junk of ["hunter2", "v1.zz.aa.bb", "", `v2.${box.keyId}.AAAAAAAAAAAAAAAA.AAAAAAAAAAAAAAAAAAAAAA`]) {
      const err = await openError(box, junk);
      expect(err.reason).toBe("malformed");
      if (junk) expect(err.message).not.toContain(junk);
    }
    expect(sealedKeyId("hunter2")).toBeNull();
  });

  test("a key of the wrong size is refused", async () => {
    await expect(createSecretBox(new Uint8Array(16))).rejects.toThrow("exactly 32 bytes");
  });
});
