// Raw writes to stdout interleaved with console.log, as progress output often is.
import process from "node:process";
const enc = new TextEncoder();
process.stdout.write("Loading");
for (let i = 0; i < 5; i++) process.stdout.write(".");
process.stdout.write(" done\n");
console.log("console after process.stdout.write");
for (let i = 0; i < 10; i++) {
  Deno.stdout.writeSync(enc.encode(`raw ${i}\n`));
  console.log(`console ${i}`);
}
await Deno.stdout.write(enc.encode("async raw write\n"));
console.log("console after async raw write");
process.stdout.write("no newline at the end, then console: ");
console.log("tail");
