/**
 * Typed readers of environment variables, for config modules only (nothing else reads
 * the environment). Each reader takes the env, the variable's name and its default,
 * and either returns a checked value or throws an `EnvError` whose message names the
 * variable, says what it must be and quotes what it got, so a bad deployment fails at
 * start with the line to fix instead of running with NaN or a silently clamped value.
 *
 * Parsing is zod's (pinned in package.json): a string pattern piped into `z.number()`
 * with bounds, so the rules are one declared schema per reader, not a hand-rolled parser
 * per service. An unset or empty variable takes the default; a default is never
 * checked against the bounds a caller passes (it is the code's own number).
 */
import { z } from "zod";

export type Env = Record<string, string | undefined>;

/** A variable that does not hold what its reader requires. */
export class EnvError extends Error {
  constructor(
    /** The variable, e.g. `OASIS_FEED_HOME_CAP`. */
    readonly variable: string,
    /** The raw value as set. */
    readonly value: string,
    /** What it must be, e.g. "an integer >= 1". */
    readonly requirement: string,
  ) {
    super(`${variable} must be ${requirement}, got "${value}"`);
    this.name = "EnvError";
  }
}

/** Bounds of a number (both inclusive). */
export interface NumberBounds {
  readonly min?: number;
  readonly max?: number;
}

function raw(env: Env, key: string): string | undefined {
  const v = env[key];
  return v === undefined || v.trim() === "" ? undefined : v.trim();
}

function describe(kind: string, b: NumberBounds): string {
  if (b.min !== undefined && b.max !== undefined) return `${kind} from ${b.min} to ${b.max}`;
  if (b.min !== undefined) return `${kind} >= ${b.min}`;
  if (b.max !== undefined) return `${kind} <= ${b.max}`;
  return kind;
}

function parse<T>(env: Env, key: string, schema: z.ZodType<T>, requirement: string): T | undefined {
  const v = raw(env, key);
  if (v === undefined) return undefined;
  const r = schema.safeParse(v);
  if (!r.success) throw new EnvError(key, v, requirement);
  return r.data;
}

function bounded(schema: z.ZodNumber, b: NumberBounds): z.ZodNumber {
  let s = schema;
  if (b.min !== undefined) s = s.min(b.min);
  if (b.max !== undefined) s = s.max(b.max);
  return s;
}

/** A whole number (decimal digits, optional sign) within `bounds`; `fallback` when unset. */
export function intEnv(env: Env, key: string, fallback: number, bounds: NumberBounds = {}): number {
  const schema = z
    .string()
    .regex(/^[+-]?\d+$/)
    .transform(Number)
    .pipe(bounded(z.number().int(), bounds));
  return parse(env, key, schema, describe("an integer", bounds)) ?? fallback;
}

/** An integer >= 1 (counts, sizes, intervals); `fallback` when unset. */
export function positiveIntEnv(env: Env, key: string, fallback: number): number {
  return intEnv(env, key, fallback, { min: 1 });
}

/** An integer >= 0 (amounts that may be switched off with 0); `fallback` when unset. */
export function nonNegativeIntEnv(env: Env, key: string, fallback: number): number {
  return intEnv(env, key, fallback, { min: 0 });
}

/** A finite decimal number within `bounds` (ratios, factors); `fallback` when unset. */
export function numberEnv(env: Env, key: string, fallback: number, bounds: NumberBounds = {}): number {
  const schema = z
    .string()
    .regex(/^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/)
    .transform(Number)
    .pipe(bounded(z.number(), bounds));
  return parse(env, key, schema, describe("a number", bounds)) ?? fallback;
}

/** A switch: 1/true/on/yes or 0/false/off/no (any case); `fallback` when unset. */
export function boolEnv(env: Env, key: string, fallback: boolean): boolean {
  const schema = z
    .string()
    .toLowerCase()
    .pipe(z.enum(["1", "true", "on", "yes", "0", "false", "off", "no"]))
    .transform((v) => ["1", "true", "on", "yes"].includes(v));
  return parse(env, key, schema, "one of 1, true, on, yes, 0, false, off, no") ?? fallback;
}

/** One of `choices` (exact); `fallback` when unset. */
export function enumEnv<const T extends string>(env: Env, key: string, choices: readonly [T, ...T[]], fallback: T): T {
  return parse(env, key, z.enum(choices), `one of ${choices.join(", ")}`) ?? fallback;
}

/** A string (trimmed); `fallback` when unset or empty. */
export function stringEnv(env: Env, key: string, fallback: string): string;
/** A string (trimmed), or undefined when unset or empty. */
export function stringEnv(env: Env, key: string): string | undefined;
export function stringEnv(env: Env, key: string, fallback?: string): string | undefined {
  return raw(env, key) ?? fallback;
}
