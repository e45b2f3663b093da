// htm bound to Preact: templates without a compile step. Every ${value} in element content
// becomes a text node, so whatever a machine sends is shown as text, never parsed as HTML.
import htm from "htm";
import { h, type VNode } from "preact";

export const html = htm.bind(h) as (strings: TemplateStringsArray, ...values: unknown[]) => VNode;
