const text = "Contact: alice@example.com, bob.smith@mail.co.uk; invalid@; carol+tag@sub.domain.org";
const emails = [...text.matchAll(/[\w.+-]+@[\w-]+(\.[\w-]+)+/g)];
console.log(emails.map((m) => [m[0], m.index, m[1]]));
try {
  text.matchAll(/x/ as any as RegExp & { global: false });
  [...text.matchAll(/x/ as RegExp)];
} catch (e) {
  console.log((e as Error).name + ": " + (e as Error).message);
}
const urls = "see https://deno.land/x?a=1 and http://example.com/path#frag.";
console.log([...urls.matchAll(/https?:\/\/[^\s]+?(?=[.,]?(\s|$))/g)].map((m) => m[0]));
const hashtags = "Loving #TypeScript and #deno_land! #100DaysOfCode #ünïcode";
console.log(hashtags.match(/#[\p{L}\p{N}_]+/gu));
console.log("a-b_c d".split(/[-_\s]/), "a1b22c333".split(/\d+/), "a,b,,c".split(",", 2), "abc".split(""));
console.log("one  two   three".split(/(\s+)/));
console.log("x".repeat(3), "ab".replaceAll("a", "$$"), "aaa".replaceAll(/a/g, (m, i) => String(i)));
const re = /o/g;
console.log(re.test("foo"), re.lastIndex, re.test("foo"), re.lastIndex, re.test("foo"), re.lastIndex);
console.log("Mississippi".search(/ss/), "Mississippi".lastIndexOf("ss"), "Mississippi".indexOf("ss", 3));
