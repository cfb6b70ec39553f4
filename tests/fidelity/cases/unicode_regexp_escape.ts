const escape = (RegExp as any).escape as ((s: string) => string) | undefined;
if (typeof escape === "function") {
  for (const s of ["a.b*c", "(1+1)=2?", "[x]{y}|z^$", "foo-bar", "hello world", "\\path/to", "1abc", "_under", "é"]) {
    console.log(JSON.stringify(s), "->", JSON.stringify(escape(s)));
  }
  const userInput = "price: $5.00 (approx)";
  console.log(new RegExp(escape(userInput)).test("the price: $5.00 (approx) today"));
} else {
  console.log("RegExp.escape unavailable");
}
const manualEscape = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
console.log(manualEscape("a.b*c(d)"));
