const text = "Compress me! ".repeat(50);
async function roundTrip(format: CompressionFormat) {
  const compressed = await new Response(new Blob([text]).stream().pipeThrough(new CompressionStream(format))).arrayBuffer();
  const restored = await new Response(new Blob([compressed]).stream().pipeThrough(new DecompressionStream(format))).text();
  console.log(format, "compressed smaller:", compressed.byteLength < text.length, "round trip ok:", restored === text);
}
for (const f of ["gzip", "deflate", "deflate-raw"] as CompressionFormat[]) await roundTrip(f);
try {
  new CompressionStream("brotli" as CompressionFormat);
  console.log("brotli supported");
} catch (e) {
  console.log((e as Error).name + ": " + (e as Error).message);
}
