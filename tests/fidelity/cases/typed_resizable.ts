const rab = new ArrayBuffer(4, { maxByteLength: 16 });
const view = new Uint8Array(rab);
console.log(rab.resizable, rab.byteLength, rab.maxByteLength, view.length);
rab.resize(12);
console.log(rab.byteLength, view.length);
const fixed = new ArrayBuffer(8);
const moved = fixed.transfer(4);
console.log(fixed.detached, fixed.byteLength, moved.byteLength);
try { new Uint8Array(fixed); } catch (e) { console.log((e as Error).name + ": " + (e as Error).message); }
const u8 = new Uint8Array([72, 101, 108, 108, 111]);
const anyU8 = u8 as any;
if (typeof anyU8.toBase64 === "function") {
  console.log(anyU8.toBase64(), anyU8.toHex(), (Uint8Array as any).fromBase64("SGVsbG8="), (Uint8Array as any).fromHex("cafe"));
  console.log(new Uint8Array([251, 255]).toBase64({ alphabet: "base64url", omitPadding: true } as any));
} else {
  console.log("no base64 on Uint8Array");
}
console.log(new SharedArrayBuffer(4).byteLength, rab);
