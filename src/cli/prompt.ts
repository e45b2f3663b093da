// Reading a secret at the terminal without showing it, or from standard input when that is a
// pipe (scripts, tests). Written here: a dependency for forty lines of raw-mode reading is more
// to audit than the lines themselves.

/** A line from a terminal prompt (no echo; asked twice with `confirm`), or stdin's first line. */
export async function readSecret(prompt: string, { confirm = false } = {}): Promise<string> {
  if (!process.stdin.isTTY) return firstLine(await new Response(Bun.stdin.stream()).text());
  const first = await promptHidden(prompt);
  if (confirm && (await promptHidden("Again: ")) !== first) throw new Error("the two passwords differ");
  return first;
}

function firstLine(text: string): string {
  const line = text.split(/\r?\n/)[0] ?? "";
  if (!line) throw new Error("no password on standard input");
  return line;
}

function promptHidden(prompt: string): Promise<string> {
  return new Promise((resolve, reject) => {
    process.stderr.write(prompt);
    const stdin = process.stdin;
    stdin.setRawMode(true);
    stdin.resume();
    let typed = "";
    const done = (err?: Error) => {
      stdin.setRawMode(false);
      stdin.pause();
      stdin.off("data", onData);
      process.stderr.write("\n");
      if (err) reject(err);
      else resolve(typed);
    };
    const onData = (chunk: Buffer) => {
      for (const ch of chunk.toString("utf8")) {
        if (ch === "\r" || ch === "\n") return done();
        if (ch === "\u0003") return done(new Error("cancelled")); // Ctrl-C
        if (ch === "\u007f" || ch === "\b") typed = [...typed].slice(0, -1).join("");
        else if (ch >= " ") typed += ch;
      }
    };
    stdin.on("data", onData);
  });
}
