// The dashboard's entry, bundled by scripts/assets.ts into dist/web/app.js.
import { render } from "preact";
import { Session } from "./lib/session.ts";
import { MachineStore } from "./lib/store.ts";
import { App } from "./ui/app.ts";
import { html } from "./ui/html.ts";

// The steps of a first load, as marks (read by bench/first-render.ts): app, session, socket,
// snapshot-first-part, snapshot-whole, snapshot-stored, first-render.
performance.mark("vxman:app");
render(html`<${App} store=${new MachineStore()} session=${new Session()} />`, document.getElementById("app")!);
