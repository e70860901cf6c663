/** kit/env.ts: typed env readers reject bad values with a message naming the variable. */
import { expect, test } from "bun:test";
import { boolEnv, EnvError, enumEnv, intEnv, nonNegativeIntEnv, numberEnv, positiveIntEnv, stringEnv } from "./env.ts";

test("unset or empty takes the default; a set value is parsed", () => {
  expect(positiveIntEnv({}, "OASIS_X", 7)).toBe(7);
  expect(positiveIntEnv({ OASIS_X: "" }, "OASIS_X", 7)).toBe(7);
  expect(positiveIntEnv({ OASIS_X: " 12 " }, "OASIS_X", 7)).toBe(12);
  expect(intEnv({ OASIS_X: "-3" }, "OASIS_X", 0)).toBe(-3);
  expect(nonNegativeIntEnv({ OASIS_X: "0" }, "OASIS_X", 5)).toBe(0);
  expect(numberEnv({ OASIS_R: "0.25" }, "OASIS_R", 0.3, { min: 0, max: 1 })).toBe(0.25);
  expect(boolEnv({ OASIS_B: "0" }, "OASIS_B", true)).toBe(false);
  expect(boolEnv({ OASIS_B: "ON" }, "OASIS_B", false)).toBe(true);
  expect(enumEnv({ OASIS_E: "1.1" }, "OASIS_E", ["1.1", "2"], "2")).toBe("1.1");
  expect(stringEnv({ OASIS_S: "" }, "OASIS_S")).toBeUndefined();
  expect(stringEnv({}, "OASIS_S", "d")).toBe("d");
});

test.each([
  [() => positiveIntEnv({ OASIS_FEED_HOME_CAP: "abc" }, "OASIS_FEED_HOME_CAP", 800), 'OASIS_FEED_HOME_CAP must be an integer >= 1, got "abc"'],
  [() => positiveIntEnv({ OASIS_X: "0" }, "OASIS_X", 1), 'OASIS_X must be an integer >= 1, got "0"'],
  [() => positiveIntEnv({ OASIS_X: "1.5" }, "OASIS_X", 1), 'OASIS_X must be an integer >= 1, got "1.5"'],
  [() => positiveIntEnv({ OASIS_X: "10abc" }, "OASIS_X", 1), 'OASIS_X must be an integer >= 1, got "10abc"'],
  [() => intEnv({ OASIS_X: "1e3" }, "OASIS_X", 1), 'OASIS_X must be an integer, got "1e3"'],
  [() => intEnv({ OASIS_X: "99999999999999999999" }, "OASIS_X", 1), 'OASIS_X must be an integer, got "99999999999999999999"'],
  [() => nonNegativeIntEnv({ OASIS_X: "-1" }, "OASIS_X", 1), 'OASIS_X must be an integer >= 0, got "-1"'],
  [() => numberEnv({ OASIS_R: "1.5" }, "OASIS_R", 0.3, { min: 0, max: 1 }), 'OASIS_R must be a number from 0 to 1, got "1.5"'],
  [() => numberEnv({ OASIS_R: "NaN" }, "OASIS_R", 0.3), 'OASIS_R must be a number, got "NaN"'],
  [() => boolEnv({ OASIS_B: "maybe" }, "OASIS_B", true), 'OASIS_B must be one of 1, true, on, yes, 0, false, off, no, got "maybe"'],
  [() => enumEnv({ OASIS_E: "3" }, "OASIS_E", ["1.1", "2"], "2"), 'OASIS_E must be one of 1.1, 2, got "3"'],
])("a bad value is refused naming the variable (%#)", (read, message) => {
  expect(read).toThrow(EnvError);
  expect(read).toThrow(message);
});
