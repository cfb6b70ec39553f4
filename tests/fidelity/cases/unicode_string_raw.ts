const path = String.raw`C:\Users\name\new_folder\table.txt`;
console.log(path, path.length);
console.log(String.raw`\n is not a newline, ${1 + 1} is interpolated`);
console.log(String.raw({ raw: ["a", "b", "c"] }, 1, 2, 3));
const tag = (strings: TemplateStringsArray, ...values: unknown[]) => JSON.stringify({ strings: [...strings], raw: strings.raw, values });
console.log(tag`line1\nline2 ${"x"} \u0041 ${42}`);
const multi = `first line
  second "quoted" line
\ttabbed`;
console.log(multi);
console.log(JSON.stringify(multi));
const html = (s: TemplateStringsArray, ...v: string[]) => s.reduce((acc, str, i) => acc + str + (i < v.length ? v[i].replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`) : ""), "");
console.log(html`<p title="${'a"b'}">${"<script>alert(1)</script>"}</p>`);
