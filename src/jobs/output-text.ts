// What hosts print, as people read it. The bytes are stored as they came; what the API and the
// live log send for display is text: UTF-8 decoded (invalid bytes become U+FFFD), terminal
// escape sequences (colours, cursor moves, titles, hyperlinks) removed, carriage returns turned
// into line breaks (progress bars become lines), and other control characters dropped. Pure.

// CSI (ESC [ … final), OSC (ESC ] … BEL or ST), DCS/SOS/PM/APC strings (ESC P|X|^|_ … ST), the
// short ESC sequences (charset selection and the like: any final but those that open the others),
// and the 8-bit CSI.
const ESCAPES = /\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)|\x1b[PX^_][^\x1b]*\x1b\\|\x1b[ -/]*[0-OQ-WYZ\\`-~]|\u009b[0-?]*[ -/]*[@-~]/g;
const CONTROLS = /[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]/g;
/** An escape sequence that is complete at the start of the text (to hold back one cut in two). */
const COMPLETE_ESCAPE = /^(?:\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)|\x1b[PX^_][^\x1b]*\x1b\\|\x1b[ -/]*[0-OQ-WYZ\\`-~])/;
/** Longer than this, a "sequence" is not one: it is shown (stripped of its ESC) rather than held. */
const MAX_ESCAPE = 256;

const decoder = new TextDecoder("utf-8");

export function displayText(bytes: Uint8Array): string {
  return decoder.decode(bytes).replace(ESCAPES, "").replace(/\r\n?/g, "\n").replace(CONTROLS, "");
}

/**
 * How many bytes of `bytes` can be cut off as a chunk now: all but a UTF-8 character or an escape
 * sequence that is still arriving, so each stored chunk reads on its own.
 */
export function completeLength(bytes: Uint8Array): number {
  return Math.min(utf8CompleteLength(bytes), escapeCompleteLength(bytes));
}

function utf8CompleteLength(bytes: Uint8Array): number {
  const n = bytes.byteLength;
  for (let back = 1; back <= Math.min(4, n); back++) {
    const b = bytes[n - back]!;
    if ((b & 0xc0) === 0x80) continue; // a continuation byte: look further back for the lead
    const need = b >= 0xf0 ? 4 : b >= 0xe0 ? 3 : b >= 0xc0 ? 2 : 1;
    return need > back ? n - back : n;
  }
  return n;
}

function escapeCompleteLength(bytes: Uint8Array): number {
  const n = bytes.byteLength;
  const from = Math.max(0, n - MAX_ESCAPE);
  const esc = bytes.lastIndexOf(0x1b);
  if (esc < from) return n;
  const tail = Buffer.from(bytes.buffer, bytes.byteOffset + esc, n - esc).toString("latin1");
  return COMPLETE_ESCAPE.test(tail) ? n : esc;
}
