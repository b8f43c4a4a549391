// Splits a filter expression into words and operators, each with its column (1-based), as pcap's
// scanner does: a word is a run of letters, digits and "_.:-" (so "6000-6008", "fd00::1" and
// "icmp-echo" are one word each); a backslash makes the rest of the word a name ("\tcp").

export interface Token {
  kind: "word" | "op" | "end";
  text: string;
  /** 1-based column of the token's first character; for "end", one past the last character */
  col: number;
  /** written with a leading backslash: a name, never a keyword */
  escaped: boolean;
}

export interface LexError {
  message: string;
  column: number;
}

// Longest first: "<=" before "<".
const OPS = ["&&", "||", "<=", ">=", "!=", "==", "<<", ">>", "(", ")", "!", "<", ">", "=", "[", "]",
  "&", "|", "+", "-", "*", "/", "%", "^"];

const WORD = /[A-Za-z0-9_.:-]/;
const ESCAPED = /[^\s!()]/;

function shownChar(c: string): string {
  return /^[\x21-\x7e]$/.test(c) ? `"${c}"` : JSON.stringify(c);
}

export function tokenize(text: string): { ok: true; tokens: Token[] } | { ok: false; error: LexError } {
  const tokens: Token[] = [];
  let i = 0;
  while (i < text.length) {
    const c = text[i] ?? "";
    if (/\s/.test(c)) {
      i++;
      continue;
    }
    const start = i;
    if (c === "\\") {
      i++;
      while (i < text.length && ESCAPED.test(text[i] ?? "")) i++;
      if (i === start + 1) return { ok: false, error: { message: 'expected a name after "\\"', column: i + 1 } };
      tokens.push({ kind: "word", text: text.slice(start + 1, i), col: start + 1, escaped: true });
      continue;
    }
    if (WORD.test(c) && c !== "-") {
      while (i < text.length && WORD.test(text[i] ?? "")) i++;
      tokens.push({ kind: "word", text: text.slice(start, i), col: start + 1, escaped: false });
      continue;
    }
    const op = OPS.find((o) => text.startsWith(o, i));
    if (op === undefined) return { ok: false, error: { message: `unexpected character ${shownChar(c)}`, column: i + 1 } };
    tokens.push({ kind: "op", text: op, col: start + 1, escaped: false });
    i += op.length;
  }
  tokens.push({ kind: "end", text: "", col: text.length + 1, escaped: false });
  return { ok: true, tokens };
}
