// stdout and stderr are compared separately
console.log("to stdout");
console.log("(raw writes are last: tests/fidelity/cases/console_raw_write_order.ts interleaves them)");
console.error("to stderr");
console.warn("warning to stderr", { code: 42 });
console.info("info to stdout");
console.error(new Error("an error object's message only").message);
console.assert(1 === 2, "assertion message goes to stderr");
console.assert(false);
await Deno.stdout.write(new TextEncoder().encode("raw stdout write\n"));
await Deno.stderr.write(new TextEncoder().encode("raw stderr write without newline"));
