/**
 * HTTP path templates of `google.api.http` rules (google/api/http.proto):
 *
 *     Template = "/" Segments [ Verb ] ;
 *     Segments = Segment { "/" Segment } ;
 *     Segment  = "*" | "**" | LITERAL | Variable ;
 *     Variable = "{" FieldPath [ "=" Segments ] "}" ;
 *     FieldPath = IDENT { "." IDENT } ;
 *     Verb     = ":" LITERAL ;
 *
 * `{var}` is `{var=*}`; `**` matches zero or more segments and may only be last. Values
 * are percent-decoded as the spec says: a variable of one segment is decoded fully; a
 * variable of several segments is decoded except `%2F`/`%2f`, which stay encoded so the
 * value's own slashes cannot be confused with path separators. Literals match decoded
 * segments. These are the rules vanguard-go and grpc-gateway implement.
 */

type Part = { kind: "literal"; value: string } | { kind: "star" } | { kind: "double" };

export interface TemplateVariable {
  /** Field path, e.g. ["profile", "user_id"]. */
  readonly path: string[];
  /** Index of the first segment it covers. */
  readonly start: number;
  /** Number of segments it covers; -1 for "to the end" (contains `**`). */
  readonly length: number;
  /** The pattern inside the braces, e.g. "users/*" (for error messages and OpenAPI). */
  readonly pattern: string;
}

export interface PathTemplate {
  /** The template as written. */
  readonly source: string;
  readonly parts: readonly Part[];
  readonly variables: readonly TemplateVariable[];
  readonly verb: string | undefined;
}

export class TemplateError extends Error {}

const identPattern = /^[A-Za-z_][A-Za-z0-9_]*$/;
const literalPattern = /^[^/*{}:=]+$/;

function parseSegments(text: string, source: string): Part[] {
  return text.split("/").map((seg) => {
    if (seg === "*") return { kind: "star" as const };
    if (seg === "**") return { kind: "double" as const };
    if (!literalPattern.test(seg)) throw new TemplateError(`bad segment "${seg}" in ${source}`);
    return { kind: "literal" as const, value: seg };
  });
}

/** Parses a template; throws TemplateError for anything the grammar does not allow. */
export function parseTemplate(source: string): PathTemplate {
  if (!source.startsWith("/")) throw new TemplateError(`template must start with "/": ${source}`);
  let body = source.slice(1);
  let verb: string | undefined;
  // The verb is a ':' after the last '/' that is not inside braces.
  let depth = 0;
  for (let i = body.length - 1; i >= 0; i--) {
    const ch = body[i];
    if (ch === "}") depth++;
    else if (ch === "{") depth--;
    else if (ch === "/" && depth === 0) break;
    else if (ch === ":" && depth === 0) {
      verb = body.slice(i + 1);
      body = body.slice(0, i);
      if (!literalPattern.test(verb)) throw new TemplateError(`bad verb "${verb}" in ${source}`);
      break;
    }
  }
  const parts: Part[] = [];
  const variables: TemplateVariable[] = [];
  let i = 0;
  while (i <= body.length) {
    const next = body.indexOf("/", i);
    if (body[i] === "{") {
      const close = body.indexOf("}", i);
      if (close < 0) throw new TemplateError(`unclosed variable in ${source}`);
      const inner = body.slice(i + 1, close);
      const [fieldPath, pattern = "*"] = inner.split("=", 2) as [string, string?];
      const path = fieldPath.split(".");
      if (!path.every((p) => identPattern.test(p))) throw new TemplateError(`bad field path "${fieldPath}" in ${source}`);
      if (variables.some((v) => v.path.join(".") === path.join("."))) throw new TemplateError(`variable ${fieldPath} bound twice in ${source}`);
      const sub = parseSegments(pattern, source);
      if (sub.some((p, k) => p.kind === "double" && k !== sub.length - 1)) throw new TemplateError(`"**" must be last in ${source}`);
      variables.push({ path, start: parts.length, length: sub.some((p) => p.kind === "double") ? -1 : sub.length, pattern });
      parts.push(...sub);
      i = close + 1;
      if (i < body.length && body[i] !== "/") throw new TemplateError(`unexpected "${body[i]}" after variable in ${source}`);
      i++;
      continue;
    }
    const end = next < 0 ? body.length : next;
    const seg = body.slice(i, end);
    if (seg === "" && body.length > 0) throw new TemplateError(`empty segment in ${source}`);
    if (seg !== "") parts.push(...parseSegments(seg, source));
    i = end + 1;
  }
  const doubles = parts.filter((p) => p.kind === "double").length;
  if (doubles > 1 || (doubles === 1 && parts.at(-1)?.kind !== "double")) throw new TemplateError(`"**" may appear once, last: ${source}`);
  return { source, parts, variables, verb };
}

/** Decodes one segment: fully, or keeping %2F/%2f encoded (multi-segment variables). */
function decode(segment: string, keepSlashes: boolean): string | undefined {
  try {
    if (!keepSlashes) return decodeURIComponent(segment);
    return segment
      .split(/(%2[Ff])/)
      .map((piece) => (/^%2[Ff]$/.test(piece) ? piece : decodeURIComponent(piece)))
      .join("");
  } catch {
    return undefined; // malformed escape
  }
}

/** Splits a request path into raw segments and verb, as a template with `verb` would see it. */
export function splitPath(path: string, withVerb: boolean): { segments: string[]; verb: string | undefined } | undefined {
  if (!path.startsWith("/")) return undefined;
  let body = path.slice(1);
  let verb: string | undefined;
  if (withVerb) {
    const lastSlash = body.lastIndexOf("/");
    const colon = body.lastIndexOf(":");
    if (colon <= lastSlash) return undefined;
    verb = body.slice(colon + 1);
    body = body.slice(0, colon);
  }
  return { segments: body === "" ? [] : body.split("/"), verb };
}

/** A request path split once (with and without a verb) for matching it against many templates. */
export interface SplitPath {
  readonly plain: { segments: string[]; verb: string | undefined } | undefined;
  readonly verbed: { segments: string[]; verb: string | undefined } | undefined;
  /** Fully decoded segments, filled as literals are compared (undefined: malformed). */
  readonly decodedPlain: Array<string | undefined | null>;
  readonly decodedVerbed: Array<string | undefined | null>;
}

/** Splits `path` both ways, for `matchTemplate` over a whole route table. */
export function splitOnce(path: string): SplitPath {
  return { plain: splitPath(path, false), verbed: splitPath(path, true), decodedPlain: [], decodedVerbed: [] };
}

/**
 * Matches a request path. Returns the variable values (field path joined by ".") or
 * undefined. A `**` may match zero segments. `pre` is the path split by `splitOnce`
 * (a route table matches one path against every template: split it once).
 */
export function matchTemplate(t: PathTemplate, path: string, pre?: SplitPath): Map<string, string> | undefined {
  const split = pre ? (t.verb !== undefined ? pre.verbed : pre.plain) : splitPath(path, t.verb !== undefined);
  if (!split || split.verb !== t.verb) return undefined;
  const segs = split.segments;
  const hasDouble = t.parts.at(-1)?.kind === "double";
  if (hasDouble ? segs.length < t.parts.length - 1 : segs.length !== t.parts.length) return undefined;
  const memo = pre ? (t.verb !== undefined ? pre.decodedVerbed : pre.decodedPlain) : undefined;
  for (let k = 0; k < t.parts.length; k++) {
    const p = t.parts[k]!;
    if (p.kind === "double") break;
    const s = segs[k];
    if (s === undefined || s === "") return undefined;
    if (p.kind === "literal") {
      let d = memo?.[k];
      if (d === undefined || d === null) {
        d = decode(s, false) ?? null;
        if (memo) memo[k] = d;
      }
      if (d !== p.value) return undefined;
    }
  }
  const values = new Map<string, string>();
  for (const v of t.variables) {
    const end = v.length === -1 ? segs.length : v.start + v.length;
    const raw = segs.slice(v.start, end);
    const multi = v.length !== 1;
    const decoded = raw.map((s) => decode(s, multi));
    if (decoded.some((d) => d === undefined)) return undefined;
    values.set(v.path.join("."), decoded.join("/"));
  }
  return values;
}

/**
 * How specific a template is, for choosing between several that match a path: more
 * literal segments first, then fewer `**`, then more segments. (vanguard-go and
 * grpc-gateway prefer literals over variables the same way.)
 */
export function specificity(t: PathTemplate): [number, number, number] {
  const literals = t.parts.filter((p) => p.kind === "literal").length + (t.verb ? 1 : 0);
  const doubles = t.parts.filter((p) => p.kind === "double").length;
  return [literals, -doubles, t.parts.length];
}

/** A key equal for templates that match exactly the same paths (conflict detection). */
export function shapeKey(t: PathTemplate): string {
  return `${t.parts.map((p) => (p.kind === "literal" ? `L:${p.value}` : p.kind === "star" ? "*" : "**")).join("/")}:${t.verb ?? ""}`;
}

/** The template in OpenAPI path syntax: `/v1/users/{user_id}:follow`. Multi-segment variables keep their name. */
export function openApiPath(t: PathTemplate, names: readonly string[] = t.variables.map((v) => v.path.join("."))): string {
  const out: string[] = [];
  for (let k = 0; k < t.parts.length; ) {
    const i = t.variables.findIndex((x) => x.start === k);
    const v = t.variables[i];
    if (v) {
      out.push(`{${names[i]}}`);
      k += v.length === -1 ? t.parts.length - k : v.length;
      continue;
    }
    const p = t.parts[k]!;
    out.push(p.kind === "literal" ? p.value : p.kind === "star" ? "*" : "**");
    k++;
  }
  return `/${out.join("/")}${t.verb ? `:${t.verb}` : ""}`;
}
