type Color = "red" | "green" | "blue";
type RGB = [number, number, number];
const palette = {
  red: [255, 0, 0],
  green: "#00ff00",
  blue: [0, 0, 255],
} satisfies Record<Color, string | RGB>;
console.log(palette.green.toUpperCase(), palette.red.map((c) => c / 255));
const config = { port: 8080, host: "localhost", tls: false } as const satisfies { port: number; host: string; tls: boolean };
console.log(config);
const routes = { home: "/", about: "/about" } satisfies Record<string, `/${string}`>;
console.log(Object.entries(routes));
let value = <unknown>"angle-bracket assertion";
console.log((value as string).length);
let x!: number;
x = 3;
console.log(x);
function isString(v: unknown): v is string { return typeof v === "string"; }
const mixed: unknown[] = [1, "a", null, "b"];
console.log(mixed.filter(isString));
function assertIsDefined<T>(v: T): asserts v is NonNullable<T> { if (v == null) throw new Error("undefined!"); }
const maybe: string | null = "here";
assertIsDefined(maybe);
console.log(maybe.length);
const accessor = { a: 1 }?.["a"] ?? 0;
console.log(accessor, null ?? "fallback", 0 || "or", 0 ?? "nullish");
let counter: number | undefined;
counter ??= 10;
counter ||= 20;
counter &&= counter + 1;
console.log(counter);
