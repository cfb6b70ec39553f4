console.log(typeof Deno, Deno.build.os, Deno.build.arch, Deno.version.v8);
console.log(Deno.inspect({ a: [1, { b: 2 }], s: "str" }), Deno.inspect("x", { colors: false }));
console.log(Deno.inspect({ deep: { deeper: { deepest: { bottom: 1 } } } }, { depth: 1 }));
console.log(Deno.inspect([1, 2, 3], { compact: false }).split("\n").length);
console.log(Deno.args, typeof Deno.readTextFile, typeof Deno.Command, Deno.errors.NotFound.name);
console.log(Deno.inspect(new Map([[1, { a: 1 }]]), { strAbbreviateSize: 5 }), Deno.inspect("abcdefghij", { strAbbreviateSize: 5 }));
console.log(Deno.inspect({ b: 2, a: 1, c: { z: 1, y: 2 } }, { sorted: true }), Deno.inspect({ a: "x".repeat(5) }, { trailingComma: true }));
const t = Deno.inspect({ x: 1 }, { colors: true });
console.log(JSON.stringify(t));
