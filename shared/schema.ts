// Small parser combinators for untrusted JSON: a schema per shape, errors naming the path at fault,
// and parsed values that carry only the fields the schema knows (no `undefined` keys).
import { err, ok, type Result } from "./result.ts";

export type Parser<T> = (v: unknown, path: string) => Result<T>;

type Obj = Record<string, unknown>;

export function isObject(v: unknown): v is Obj {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

export const num: Parser<number> = (v, path) =>
  typeof v === "number" && Number.isFinite(v) ? ok(v) : err(`${path}: expected a number`);

export const bool: Parser<boolean> = (v, path) => (typeof v === "boolean" ? ok(v) : err(`${path}: expected a boolean`));

export function str(maxLen = 256): Parser<string> {
  return (v, path) => {
    if (typeof v !== "string") return err(`${path}: expected a string`);
    return v.length > maxLen ? err(`${path}: longer than ${maxLen} characters`) : ok(v);
  };
}

export function oneOf<const T extends readonly (string | number)[]>(...values: T): Parser<T[number]> {
  return (v, path) => (values.some((x) => x === v) ? ok(v as T[number]) : err(`${path}: expected one of ${values.join(", ")}`));
}

export function arrayOf<T>(item: Parser<T>, maxLen = 100_000): Parser<T[]> {
  return (v, path) => {
    if (!Array.isArray(v)) return err(`${path}: expected an array`);
    if (v.length > maxLen) return err(`${path}: more than ${maxLen} items`);
    const out: T[] = [];
    for (const [i, x] of v.entries()) {
      const r = item(x, `${path}[${i}]`);
      if (!r.ok) return r;
      out.push(r.value);
    }
    return ok(out);
  };
}

export function matching(re: RegExp, what: string, inner: Parser<string>): Parser<string> {
  return (v, path) => {
    const r = inner(v, path);
    return !r.ok || re.test(r.value) ? r : err(`${path}: expected ${what}`);
  };
}

type Fields = Record<string, Parser<unknown>>;
type Out<R extends Fields, O extends Fields> = { [K in keyof R]: R[K] extends Parser<infer T> ? T : never }
  & { [K in keyof O]?: O[K] extends Parser<infer T> ? T : never };

/** An object with `required` fields and `optional` ones (absent or undefined: left out). */
export function object<R extends Fields, O extends Fields>(required: R, optional: O): Parser<Out<R, O>> {
  return (v, path) => {
    if (!isObject(v)) return err(`${path}: expected an object`);
    const out: Obj = {};
    for (const [k, p] of Object.entries(required)) {
      const r = p(v[k], `${path}.${k}`);
      if (!r.ok) return r;
      out[k] = r.value;
    }
    for (const [k, p] of Object.entries(optional)) {
      if (v[k] === undefined) continue;
      const r = p(v[k], `${path}.${k}`);
      if (!r.ok) return r;
      out[k] = r.value;
    }
    return ok(out as Out<R, O>);
  };
}

/** A parser defined later (recursive shapes). */
export function lazy<T>(get: () => Parser<T>): Parser<T> {
  return (v, path) => get()(v, path);
}
