console.log(String.fromCodePoint(0x1f600, 0x41, 0x2764, 0xfe0f));
console.log(String.fromCharCode(72, 105), String.fromCharCode(0xd83d, 0xde00));
const toCodePoints = (s: string) => [...s].map((c) => c.codePointAt(0));
console.log(toCodePoints("Añ€😀"));
console.log("\u{1F4A9}" === "💩", "\x41\u0042\u{43}");
console.log("abc".at(-1), "😀x".at(0), "😀x".at(1));
const rot13 = (s: string) => s.replace(/[a-z]/gi, (c) => {
  const base = c <= "Z" ? 65 : 97;
  return String.fromCharCode(((c.charCodeAt(0) - base + 13) % 26) + base);
});
console.log(rot13("Hello, World!"));
const caesar = (s: string, k: number) => [...s].map((ch) => {
  const cp = ch.codePointAt(0)!;
  if (cp >= 97 && cp <= 122) return String.fromCodePoint(((cp - 97 + k) % 26) + 97);
  return ch;
}).join("");
console.log(caesar("attack at dawn", 3));
console.log([..."hello"].map((c) => c.charCodeAt(0).toString(2).padStart(8, "0")).join(" "));
try { String.fromCodePoint(0x110000); } catch (e) { console.log((e as Error).name, (e as Error).message); }
