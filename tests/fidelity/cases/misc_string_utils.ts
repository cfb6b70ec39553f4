const capitalize = (s: string) => s.charAt(0).toUpperCase() + s.slice(1);
const camelToSnake = (s: string) => s.replace(/[A-Z]/g, (m) => "_" + m.toLowerCase());
const snakeToCamel = (s: string) => s.replace(/_([a-z])/g, (_, c: string) => c.toUpperCase());
const titleCase = (s: string) => s.toLowerCase().split(" ").map(capitalize).join(" ");
console.log(capitalize("hello"), camelToSnake("someVariableName"), snakeToCamel("some_variable_name"), titleCase("the LORD of the rings"));
const wrap = (text: string, width: number) => text.split(" ").reduce<string[]>((lines, word) => {
  const last = lines[lines.length - 1];
  if (last && (last + " " + word).length <= width) lines[lines.length - 1] = last + " " + word;
  else lines.push(word);
  return lines;
}, []);
console.log(wrap("The quick brown fox jumps over the lazy dog and keeps running far away", 20).join("\n"));
const isPalindrome = (s: string) => { const c = s.toLowerCase().replace(/[^a-z0-9]/g, ""); return c === [...c].reverse().join(""); };
console.log(isPalindrome("A man, a plan, a canal: Panama"), isPalindrome("hello"));
const truncate = (s: string, n: number) => (s.length > n ? s.slice(0, n - 1) + "…" : s);
console.log(truncate("This sentence is too long", 10));
console.log("abc".localeCompare("abd"), "a,b;c d".split(/[,; ]/), " x ".trim().length, "Ab".toLowerCase() === "ab");
console.log("%", "50%".padStart(6, "."), "12".padStart(5, "0"), "7".padEnd(3, "-") + "|");
console.log("hello world".replace(/\b\w/g, (c) => c.toUpperCase()), "aaa".lastIndexOf("a"), "abc".concat("def", 1 as any));
console.log("😀 smile".startsWith("😀"), "file.test.ts".endsWith(".ts"), "Hello".includes("ell"), "x".codePointAt(5));
console.log(["b", "a", "C"].join(), [1, [2, [3]]].toString(), String([null, undefined, 1]), String({}), String(Symbol("q")));
const levenshtein = (a: string, b: string): number => {
  const dp = Array.from({ length: a.length + 1 }, (_, i) => [i, ...Array(b.length).fill(0)]);
  for (let j = 1; j <= b.length; j++) dp[0][j] = j;
  for (let i = 1; i <= a.length; i++) for (let j = 1; j <= b.length; j++) dp[i][j] = Math.min(dp[i - 1][j] + 1, dp[i][j - 1] + 1, dp[i - 1][j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
  return dp[a.length][b.length];
};
console.log(levenshtein("kitten", "sitting"), levenshtein("", "abc"));
