const upper = new TransformStream<string, string>({
  transform(chunk, controller) { controller.enqueue(chunk.toUpperCase()); },
});
const source = ReadableStream.from(["alpha", "beta", "gamma"]);
const out: string[] = [];
await source.pipeThrough(upper).pipeTo(new WritableStream({ write(c) { out.push(c); } }));
console.log(out);
const lines = new ReadableStream<string>({
  start(c) { ["line one\nline ", "two\n", "line three"].forEach((x) => c.enqueue(x)); c.close(); },
});
let buffer = "";
const collected: string[] = [];
for await (const chunk of lines) {
  buffer += chunk;
  const parts = buffer.split("\n");
  buffer = parts.pop()!;
  collected.push(...parts);
}
if (buffer) collected.push(buffer);
console.log(collected);
const [a, b] = ReadableStream.from([1, 2, 3]).tee();
console.log(await Array.fromAsync(a), await Array.fromAsync(b));
const bytes = new Response("text through streams").body!.pipeThrough(new TextDecoderStream());
console.log(await Array.fromAsync(bytes));
const enc = ReadableStream.from(["é"]).pipeThrough(new TextEncoderStream());
console.log(await Array.fromAsync(enc));
console.log(new ReadableStream(), new WritableStream().locked);
