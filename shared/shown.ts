// Words from outside (paths, flag values) as one line of an error message may show them. A file name
// may hold a newline or an escape sequence: printed raw, it would split the line a script reads or
// rewrite the user's terminal.

/** The word as it is when it is plain printable ASCII, else as a JSON string (quoted, escaped). */
export function shown(word: string): string {
  return /^[\x21-\x7e]*$/.test(word) ? word : JSON.stringify(word);
}

/**
 * A whole message with every control character (C0, DEL, C1, line and paragraph separators) as a
 * \u escape: the last guard on a line whose parts came from elsewhere (an error's own message).
 */
export function oneLine(text: string): string {
  return text.replace(/[\u0000-\u001f\u007f-\u009f\u2028\u2029]/g,
    (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`);
}
