// The README stays the front door it promises to be: its two set-up commands, every test
// requirement the tests can ask for, and links that lead somewhere.
import { describe, expect, test } from "bun:test";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { REQUIREMENTS } from "./helpers/requirements.ts";

const ROOT = join(import.meta.dir, "..");
const readme = readFileSync(join(ROOT, "README.md"), "utf8");

describe("README", () => {
  test("lists every requirement a test can ask for", () => {
    for (const name of Object.keys(REQUIREMENTS)) expect(readme).toContain(`| \`${name}\` |`);
  });

  test("gives the two set-up commands", () => {
    expect(readme).toContain("npm ci && npm start");
    expect(readme).toContain("npm ci && npm test");
  });

  test("stays short: the guides live in docs/", () => {
    expect(readme.split("\n").length).toBeLessThan(150);
  });

  test("every relative link points at a file that exists", () => {
    const docs = ["README.md", ...readdirDocs()];
    for (const file of docs) {
      const text = readFileSync(join(ROOT, file), "utf8");
      for (const [, target] of text.matchAll(/\]\(((?!https?:|#)[^)#\s]+)(?:#[^)]*)?\)/g)) {
        expect({ file, target, exists: existsSync(join(ROOT, file.includes("/") ? "docs" : "", target!)) }).toEqual({ file, target, exists: true });
      }
    }
  });
});

function readdirDocs(): string[] {
  return [...new Bun.Glob("docs/*.md").scanSync({ cwd: ROOT })];
}
