// Placeholder entry until the dashboard lands (issue 4): shows the machine list as text.
import { h, render } from "preact";
import htm from "htm";

const html = htm.bind(h);

async function main() {
  const res = await fetch("/api/machines?limit=10000");
  const list = (await res.json()) as { items: { hostname: string; ip_address: string; status: string }[] };
  render(html`<ul>${list.items.map((m) => html`<li>${m.hostname} ${m.ip_address} ${m.status}</li>`)}</ul>`, document.getElementById("app")!);
}
void main();
