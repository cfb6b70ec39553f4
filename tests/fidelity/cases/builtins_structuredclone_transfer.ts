// structuredClone with a transfer list detaches what it transfers.
const buf = new ArrayBuffer(8);
new Uint8Array(buf).set([1, 2, 3]);
const moved = structuredClone(buf, { transfer: [buf] });
console.log(buf.byteLength, buf.detached, moved.byteLength, new Uint8Array(moved).slice(0, 3));
const payload = { id: 7, data: new Uint8Array([9, 8, 7]) };
const copy = structuredClone(payload, { transfer: [payload.data.buffer] });
console.log(payload.data.byteLength, copy.data);
try {
  structuredClone(buf, { transfer: [buf] });
} catch (e) {
  console.log((e as Error).name, (e as Error).message);
}
const { port1, port2 } = new MessageChannel();
const received = new Promise<void>((resolve) => {
  port2.onmessage = (e) => { console.log("received", e.data.byteLength); port1.close(); port2.close(); resolve(); };
});
const sent = new ArrayBuffer(16);
port1.postMessage(sent, [sent]);
console.log("after postMessage", sent.byteLength);
await received;
