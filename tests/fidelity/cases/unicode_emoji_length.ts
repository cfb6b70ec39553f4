const samples = ["a", "é", "😀", "👍🏽", "👨‍👩‍👧", "🇫🇷", "❤️", "1️⃣", "𝒳", "नमस्ते"];
for (const s of samples) {
  console.log(JSON.stringify(s), s.length, [...s].length, Array.from(s).map((c) => "U+" + c.codePointAt(0)!.toString(16).toUpperCase().padStart(4, "0")).join(" "), new TextEncoder().encode(s).length);
}
console.log("😀".split(""), "😀".charCodeAt(0), "😀".charCodeAt(1), "😀".codePointAt(0), "😀".codePointAt(1));
console.log("abc😀def".slice(0, 4), "abc😀def".substring(3, 5));
console.log("Hi 😀!".split("").reverse().join("") === "!😀 iH", [..."Hi 😀!"].reverse().join(""));
console.log("😀".padStart(5, "*"), "x".padEnd(3, "🎉"));
console.log("\ud800".isWellFormed(), "ab\ud800c".toWellFormed(), "😀".isWellFormed());
console.log(encodeURIComponent("😀 é"), decodeURIComponent("%F0%9F%98%80"));
try { encodeURIComponent("\ud800"); } catch (e) { console.log((e as Error).name, (e as Error).message); }
