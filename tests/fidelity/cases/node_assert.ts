import assert from "node:assert";
import { strict as assertStrict } from "node:assert";
assert.ok(true);
assert.equal(1, "1" as any);
assert.deepStrictEqual({ a: [1, 2], b: new Map([["k", 1]]) }, { a: [1, 2], b: new Map([["k", 1]]) });
const attempts: Array<[string, () => void]> = [
  ["strictEqual", () => assert.strictEqual(1, 2)],
  ["ok", () => assert.ok(0, "value must be truthy")],
  ["notStrictEqual", () => assert.notStrictEqual("a", "a", "custom message")],
  ["throws", () => assert.throws(() => { /* does not throw */ })],
  ["match", () => assert.match("abc", /x/, "no x in abc")],
  ["fail", () => assert.fail("explicit failure")],
  ["strict.equal", () => assertStrict.equal(1, 1 as any)],
];
for (const [name, fn] of attempts) {
  try {
    fn();
    console.log(name, "passed");
  } catch (e) {
    const err = e as any;
    console.log(name, "->", err.name, err.code, JSON.stringify(err.message.split("\n")[0]));
  }
}
assert.throws(() => { throw new TypeError("wrong"); }, TypeError);
assert.throws(() => { throw new Error("specific text"); }, /specific/);
await assert.rejects(Promise.reject(new Error("async fail")), { message: "async fail" });
console.log("all assertions done", typeof assert.AssertionError);
