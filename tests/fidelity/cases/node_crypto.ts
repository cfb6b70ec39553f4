import { createHash, createHmac, randomUUID, randomBytes, timingSafeEqual, getHashes, pbkdf2Sync, createCipheriv, createDecipheriv } from "node:crypto";
const input = "The quick brown fox jumps over the lazy dog";
console.log("sha256", createHash("sha256").update(input).digest("hex"));
console.log("md5", createHash("md5").update(input).digest("hex"));
console.log("sha1 b64", createHash("sha1").update(input).digest("base64"));
console.log("sha512 chunks", createHash("sha512").update("The quick ").update("brown fox jumps over the lazy dog").digest("hex").slice(0, 32));
console.log("hmac", createHmac("sha256", "key").update(input).digest("hex"));
console.log(createHash("sha256").update(Buffer.from([1, 2, 3])).digest());
console.log(randomUUID().length, randomUUID().split("-").map((p) => p.length), randomBytes(16).length);
console.log(timingSafeEqual(Buffer.from("abc"), Buffer.from("abc")));
console.log(getHashes().includes("sha256"));
console.log(pbkdf2Sync("password", "salt", 1000, 32, "sha256").toString("hex"));
const key = Buffer.alloc(32, 1), iv = Buffer.alloc(16, 2);
const cipher = createCipheriv("aes-256-cbc", key, iv);
const enc = Buffer.concat([cipher.update("secret message", "utf8"), cipher.final()]).toString("hex");
const decipher = createDecipheriv("aes-256-cbc", key, iv);
console.log(enc, Buffer.concat([decipher.update(Buffer.from(enc, "hex")), decipher.final()]).toString());
try { createHash("nope"); } catch (e) { console.log((e as Error).message); }
