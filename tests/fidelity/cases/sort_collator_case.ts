const words = ["apple", "Apple", "APPLE", "äpple", "banana", "Banana", "cherry", "éclair", "eclair", "Eclair"];
for (const sensitivity of ["base", "accent", "case", "variant"] as const) {
  const c = new Intl.Collator("en", { sensitivity });
  console.log(sensitivity.padEnd(8), c.compare("a", "á"), c.compare("a", "A"), c.compare("a", "b"));
}
console.log(words.toSorted(new Intl.Collator("en").compare));
console.log(words.toSorted(new Intl.Collator("en", { ignorePunctuation: true }).compare));
// Dedupe case-insensitively, accent-insensitively
const c = new Intl.Collator("en", { sensitivity: "base" });
const unique: string[] = [];
for (const w of words) if (!unique.some((u) => c.compare(u, w) === 0)) unique.push(w);
console.log(unique);
console.log(["z", "a", "Z", "ä"].sort(new Intl.Collator("de", { usage: "search" }).compare));
console.log(["ch", "cz", "h", "c"].sort(new Intl.Collator("cs").compare));
