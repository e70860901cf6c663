/**
 * protovalidate rules as JSON Schema keywords, read from the `(buf.validate.field)`
 * options of the descriptors, so the OpenAPI document states the limits the services
 * enforce (max_len -> maxLength, gte -> minimum, max_items -> maxItems, ...) instead of a
 * copy typed by hand that drifts.
 *
 * What JSON Schema can say is said with its keywords; what it cannot (byte lengths,
 * bounds of 64-bit integers, which travel as decimal strings in proto3 JSON, CEL rules)
 * is said in the description, so no rule is dropped silently. `counted` reports how many
 * rules were seen and how many became keywords (the generator prints it).
 *
 * String lengths: protovalidate counts code points, JSON Schema's maxLength counts
 * characters as code points too (JSON Schema 2020-12 section 6.3.1), so they agree.
 */
import { getOption, hasOption, type DescField, type DescOneof } from "@bufbuild/protobuf";
import { field as fieldRules, oneof as oneofRules, type FieldRules } from "@bufbuild/protovalidate/gen/buf/validate/validate_pb.js";

type Schema = Record<string, unknown>;

/**
 * Tally of rules seen and rules that became JSON Schema keywords, counted once per
 * message field (inside `countingRules`), not again for each path or query parameter.
 */
export const counted = {
  active: false,
  n: { rules: 0, keywords: 0 },
  get rules() {
    return this.n.rules;
  },
  set rules(v: number) {
    if (this.active) this.n.rules = v;
  },
  get keywords() {
    return this.n.keywords;
  },
  set keywords(v: number) {
    if (this.active) this.n.keywords = v;
  },
};

/** Runs `fn` with the tally on (nesting keeps it on). */
export function countingRules(fn: () => void): void {
  const was = counted.active;
  counted.active = true;
  try {
    fn();
  } finally {
    counted.active = was;
  }
}

/** A bound on a number: `[keyword, value]` pairs for JSON Schema. */
type Bound = { case: "gt" | "gte" | "lt" | "lte"; value: number | bigint } | { case: undefined; value?: undefined };

const boundKeyword = { gt: "exclusiveMinimum", gte: "minimum", lt: "exclusiveMaximum", lte: "maximum" } as const;
const boundWords = { gt: ">", gte: ">=", lt: "<", lte: "<=" } as const;

interface NumberRules {
  const?: number | bigint;
  greaterThan?: Bound;
  lessThan?: Bound;
  in?: readonly (number | bigint)[];
  notIn?: readonly (number | bigint)[];
}

/** The field's rules, or undefined when it has none. */
export function rulesOf(f: DescField): FieldRules | undefined {
  return hasOption(f, fieldRules) ? getOption(f, fieldRules) : undefined;
}

/** Whether `(buf.validate.field).required` is set. */
export function isRequired(f: DescField): boolean {
  return rulesOf(f)?.required === true;
}

/** Whether `(buf.validate.oneof).required` is set (exactly one member must be set). */
export function oneofRequired(o: DescOneof): boolean {
  return hasOption(o, oneofRules) && getOption(o, oneofRules).required;
}

function note(s: Schema, text: string): void {
  s.description = s.description ? `${s.description as string} ${text}` : text;
}

function keyword(s: Schema, name: string, value: unknown): void {
  s[name] = value;
  counted.keywords++;
}

/**
 * Numbers: as keywords when the JSON form is a number; for 64-bit integers (decimal
 * strings) a non-negative lower bound becomes a digits pattern and every bound is also
 * written out in the description.
 */
function applyNumber(s: Schema, r: NumberRules, asString: boolean): void {
  const words: string[] = [];
  for (const b of [r.greaterThan, r.lessThan]) {
    if (!b || b.case === undefined) continue;
    counted.rules++;
    if (!asString) keyword(s, boundKeyword[b.case], Number(b.value));
    words.push(`${boundWords[b.case]} ${b.value}`);
  }
  if (asString && r.greaterThan?.case !== undefined) {
    const min = BigInt(r.greaterThan.value) + (r.greaterThan.case === "gt" ? 1n : 0n);
    if (min === 1n) keyword(s, "pattern", "^0*[1-9][0-9]*$");
    else if (min === 0n) keyword(s, "pattern", "^[0-9]+$");
  }
  if (asString && words.length) note(s, `Must be ${words.join(" and ")}.`);
  if (r.const !== undefined && r.const !== 0 && r.const !== 0n) {
    counted.rules++;
    keyword(s, "const", asString ? String(r.const) : Number(r.const));
  }
  if (r.in?.length) {
    counted.rules++;
    keyword(s, "enum", r.in.map((v) => (asString ? String(v) : Number(v))));
  }
  if (r.notIn?.length) {
    counted.rules++;
    keyword(s, "not", { enum: r.notIn.map((v) => (asString ? String(v) : Number(v))) });
  }
}

const formats: Record<string, string> = { email: "email", hostname: "hostname", ipv4: "ipv4", ipv6: "ipv6", uri: "uri", uriRef: "uri-reference", uuid: "uuid" };

/** Adds the JSON Schema keywords for `rules` to `s` (a schema of one value, not a list). */
export function applyRules(s: Schema, rules: FieldRules | undefined): void {
  if (!rules) return;
  const t = rules.type;
  switch (t.case) {
    case "string": {
      const r = t.value;
      if (r.len) (counted.rules++, keyword(s, "minLength", Number(r.len)), keyword(s, "maxLength", Number(r.len)));
      if (r.minLen) (counted.rules++, keyword(s, "minLength", Number(r.minLen)));
      if (r.maxLen) (counted.rules++, keyword(s, "maxLength", Number(r.maxLen)));
      if (r.pattern) (counted.rules++, keyword(s, "pattern", r.pattern));
      if (r.const) (counted.rules++, keyword(s, "const", r.const));
      if (r.in.length) (counted.rules++, keyword(s, "enum", [...r.in]));
      if (r.minBytes) (counted.rules++, note(s, `At least ${r.minBytes} bytes of UTF-8.`));
      if (r.maxBytes) (counted.rules++, note(s, `At most ${r.maxBytes} bytes of UTF-8.`));
      if (r.prefix) (counted.rules++, note(s, `Starts with \`${r.prefix}\`.`));
      if (r.suffix) (counted.rules++, note(s, `Ends with \`${r.suffix}\`.`));
      if (r.wellKnown.case && formats[r.wellKnown.case]) (counted.rules++, keyword(s, "format", formats[r.wellKnown.case]));
      break;
    }
    case "bytes": {
      const r = t.value;
      if (r.minLen) (counted.rules++, note(s, `At least ${r.minLen} bytes (before base64).`));
      if (r.maxLen) (counted.rules++, note(s, `At most ${r.maxLen} bytes (before base64).`));
      break;
    }
    case "int32":
    case "sint32":
    case "sfixed32":
    case "uint32":
    case "fixed32":
    case "float":
    case "double":
      applyNumber(s, t.value as NumberRules, false);
      break;
    case "int64":
    case "sint64":
    case "sfixed64":
    case "uint64":
    case "fixed64":
      applyNumber(s, t.value as NumberRules, true);
      break;
    case "enum": {
      const r = t.value;
      if (r.definedOnly) (counted.rules++, note(s, "Only the values listed."));
      if (r.in.length) (counted.rules++, note(s, `One of the values numbered ${r.in.join(", ")}.`));
      if (r.notIn.length) (counted.rules++, note(s, `Not the values numbered ${r.notIn.join(", ")}.`));
      break;
    }
    default:
      break;
  }
  if (rules.cel.length) (counted.rules += rules.cel.length, note(s, rules.cel.map((c) => c.message || c.expression).join(" ")));
}

/** Adds list rules (min/max items, unique) to `s`, an array schema, and item rules to its items. */
export function applyListRules(s: Schema, rules: FieldRules | undefined): void {
  if (rules?.type.case !== "repeated") return applyRules(s, rules);
  const r = rules.type.value;
  if (r.minItems) (counted.rules++, keyword(s, "minItems", Number(r.minItems)));
  if (r.maxItems) (counted.rules++, keyword(s, "maxItems", Number(r.maxItems)));
  if (r.unique) (counted.rules++, keyword(s, "uniqueItems", true));
  if (r.items && s.items && !("$ref" in (s.items as Schema))) {
    const items = { ...(s.items as Schema) };
    applyRules(items, r.items);
    s.items = items;
  }
}

/** Adds map rules (min/max pairs) to `s`, an object schema. */
export function applyMapRules(s: Schema, rules: FieldRules | undefined): void {
  if (rules?.type.case !== "map") return applyRules(s, rules);
  const r = rules.type.value;
  if (r.minPairs) (counted.rules++, keyword(s, "minProperties", Number(r.minPairs)));
  if (r.maxPairs) (counted.rules++, keyword(s, "maxProperties", Number(r.maxPairs)));
}
