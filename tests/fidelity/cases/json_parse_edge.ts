console.log(JSON.parse('{"a":1,"b":[true,false,null],"c":{"d":"\\u00e9\\n"}}'));
console.log(JSON.parse("12345678901234567890"), JSON.parse("1e400"), JSON.parse("-0"), Object.is(JSON.parse("-0"), -0));
console.log(JSON.parse('"\\ud83d\\ude00"'), JSON.parse(' [1 , 2 ] '));
console.log(JSON.parse('{"__proto__": {"polluted": true}}'), ({} as any).polluted);
console.log(JSON.parse('{"a":1,"a":2}'));
const revived = JSON.parse('{"when":"2024-01-02T03:04:05.000Z","n":"10"}', (key, value) => {
  if (key === "when") return new Date(value);
  if (key === "n") return Number(value);
  return value;
});
console.log(revived, revived.when instanceof Date);
const bad = ["{a:1}", "[1,]", "'x'", "", "{\"a\":1", "NaN", "01", "\"\t\"", "[1] x", "undefined"];
for (const s of bad) {
  try {
    JSON.parse(s);
    console.log("parsed?!", s);
  } catch (e) {
    console.log(JSON.stringify(s), "=>", (e as Error).name + ": " + (e as Error).message);
  }
}
const withSource = JSON.parse("[12345678901234567890, 1.0]", function (this: any, k, v, ctx?: { source: string }) {
  return ctx && typeof v === "number" ? `${v} (src ${ctx.source})` : v;
});
console.log(withSource);
const raw = (JSON as any).rawJSON ? JSON.stringify({ big: (JSON as any).rawJSON("12345678901234567890") }) : "no rawJSON";
console.log(raw);
