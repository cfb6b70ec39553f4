const enc = new TextEncoder();
const dec = new TextDecoder();
const bytes = enc.encode("héllo 😀");
console.log(bytes, bytes.length, enc.encoding);
console.log(dec.decode(bytes), dec.decode(new Uint8Array([0xff, 0xfe, 0x41])), dec.encoding);
try { new TextDecoder("utf-8", { fatal: true }).decode(new Uint8Array([0xc3])); } catch (e) { console.log((e as Error).name + ": " + (e as Error).message); }
console.log(new TextDecoder("utf-16le").decode(new Uint8Array([0x48, 0, 0x69, 0])));
console.log(new TextDecoder("latin1").encoding, new TextDecoder("windows-1252").decode(new Uint8Array([0x80, 0xe9])));
console.log(new TextDecoder().decode(new Uint8Array([0xef, 0xbb, 0xbf, 0x41])).length, new TextDecoder("utf-8", { ignoreBOM: true }).decode(new Uint8Array([0xef, 0xbb, 0xbf, 0x41])).length);
const target = new Uint8Array(5);
console.log(enc.encodeInto("añb", target), target);
const streamDec = new TextDecoder();
const chunks = [new Uint8Array([0xe2, 0x82]), new Uint8Array([0xac, 0x21])];
console.log(chunks.map((c, i) => streamDec.decode(c, { stream: i < chunks.length - 1 })).join(""));
try { new TextDecoder("nope"); } catch (e) { console.log((e as Error).name + ": " + (e as Error).message); }
const hex = (b: Uint8Array) => Array.from(b, (x) => x.toString(16).padStart(2, "0")).join(" ");
console.log(hex(enc.encode("€")), hex(enc.encode("\ud800")));
