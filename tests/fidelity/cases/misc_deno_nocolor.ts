// Deno.noColor is true only when NO_COLOR is set (neither side sets it), whatever stdout is.
console.log(Deno.noColor);
const paint = (s: string) => (Deno.noColor ? s : `\x1b[32m${s}\x1b[0m`);
console.log(JSON.stringify(paint("ok")));
