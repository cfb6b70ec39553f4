console.log(btoa("Hello, World!"), atob("SGVsbG8sIFdvcmxkIQ=="));
try { btoa("héllo 😀"); } catch (e) { console.log((e as Error).name + ": " + (e as Error).message); }
const utf8ToB64 = (s: string) => btoa(String.fromCharCode(...new TextEncoder().encode(s)));
const b64ToUtf8 = (b: string) => new TextDecoder().decode(Uint8Array.from(atob(b), (c) => c.charCodeAt(0)));
const encoded = utf8ToB64("héllo 😀");
console.log(encoded, b64ToUtf8(encoded));
console.log(atob("YQ"), atob(" Y W I = "), btoa(""), btoa("\xff\xfe"));
try { atob("@@@"); } catch (e) { console.log((e as Error).name + ": " + (e as Error).message); }
const b64url = (s: string) => btoa(s).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
console.log(b64url("\xfb\xff subjects?"));
const header = { alg: "HS256", typ: "JWT" };
const payload = { sub: "1234567890", name: "John Doe", iat: 1516239022 };
console.log(`${b64url(JSON.stringify(header))}.${b64url(JSON.stringify(payload))}`);
