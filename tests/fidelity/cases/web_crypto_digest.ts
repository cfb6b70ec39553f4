const toHex = (buf: ArrayBuffer) => [...new Uint8Array(buf)].map((b) => b.toString(16).padStart(2, "0")).join("");
const data = new TextEncoder().encode("The quick brown fox jumps over the lazy dog");
for (const alg of ["SHA-1", "SHA-256", "SHA-384", "SHA-512"]) {
  console.log(alg, toHex(await crypto.subtle.digest(alg, data)));
}
console.log(toHex(await crypto.subtle.digest("SHA-256", new Uint8Array())));
const key = await crypto.subtle.importKey("raw", new TextEncoder().encode("secret-key"), { name: "HMAC", hash: "SHA-256" }, false, ["sign", "verify"]);
const sig = await crypto.subtle.sign("HMAC", key, data);
console.log("HMAC", toHex(sig));
console.log(await crypto.subtle.verify("HMAC", key, sig, data));
const aesKey = await crypto.subtle.importKey("raw", new Uint8Array(16).fill(7), "AES-GCM", true, ["encrypt", "decrypt"]);
const ct = await crypto.subtle.encrypt({ name: "AES-GCM", iv: new Uint8Array(12) }, aesKey, new TextEncoder().encode("hi"));
console.log("AES-GCM", toHex(ct), new TextDecoder().decode(await crypto.subtle.decrypt({ name: "AES-GCM", iv: new Uint8Array(12) }, aesKey, ct)));
const bits = await crypto.subtle.deriveBits({ name: "PBKDF2", salt: new TextEncoder().encode("salt"), iterations: 1000, hash: "SHA-256" }, await crypto.subtle.importKey("raw", new TextEncoder().encode("password"), "PBKDF2", false, ["deriveBits"]), 256);
console.log("PBKDF2", toHex(bits));
console.log(crypto.randomUUID().length, /^[0-9a-f-]{36}$/.test(crypto.randomUUID()), crypto.getRandomValues(new Uint8Array(8)).length);
try { await crypto.subtle.digest("MD5", data); } catch (e) { console.log((e as Error).name + ": " + (e as Error).message); }
console.log(aesKey.algorithm, aesKey.type, aesKey.extractable, aesKey.usages);
