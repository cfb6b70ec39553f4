// Once process.nextTick has been used, util.callbackify callbacks do run.
import util from "node:util";
import process from "node:process";
process.nextTick(() => console.log("tick 1"));
const double = util.callbackify(async (x: number) => x * 2);
double(21, (err: unknown, v?: number) => console.log("callbackify:", err, v));
queueMicrotask(() => console.log("microtask"));
Promise.resolve().then(() => console.log("promise"));
process.nextTick(() => console.log("tick 2"));
console.log("sync end");
setTimeout(() => console.log("timer"), 50);
