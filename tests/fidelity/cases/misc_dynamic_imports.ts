import answer, { double } from "data:application/javascript,export default 42; export const double = (x) => x * 2;";
import data from "data:application/json,{\"ok\":true,\"list\":[1,2]}" with { type: "json" };
console.log(answer, double(21), data);
const { default: path } = await import("node:path");
console.log(path.join("a", "b"));
const mod = await import("data:text/javascript;base64," + btoa("export const greet = (n) => `hello ${n}`;"));
console.log(mod.greet("world"), Object.keys(mod));
const ts = await import("data:application/typescript," + encodeURIComponent("export const typed = (x: number): string => x.toFixed(1);"));
console.log(ts.typed(3));
try {
  await import("data:text/javascript,throw new Error('module init failed')");
} catch (e) {
  console.log("caught:", (e as Error).message);
}
try {
  await import("node:does-not-exist");
} catch (e) {
  console.log("caught:", (e as Error).name);
}
