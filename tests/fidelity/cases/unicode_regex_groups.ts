const log = `2024-03-15 10:20:30 ERROR [auth] Invalid token for user=alice
2024-03-15 10:21:00 INFO [api] GET /users 200 12ms
2024-03-15 10:22:45 WARN [db] Slow query 1500ms`;
const lineRe = /^(?<date>\d{4}-\d{2}-\d{2}) (?<time>[\d:]+) (?<level>[A-Z]+) \[(?<module>\w+)\] (?<msg>.*)$/gm;
for (const m of log.matchAll(lineRe)) {
  console.log(m.groups);
}
const { groups: { year, month } = {} as any } = /(?<year>\d{4})-(?<month>\d{2})/.exec("on 2023-11 we")!;
console.log(year, month);
console.log("2024-03-15".replace(/(?<y>\d+)-(?<m>\d+)-(?<d>\d+)/, "$<d>/$<m>/$<y>"));
console.log("John Smith".replace(/(\w+)\s(\w+)/, "$2, $1"));
console.log("aaa".replace(/a/g, "$&$&"), "abc".replace("b", "$`$'"));
console.log(/(?<a>x)|(?<b>y)/.exec("y")!.groups);
console.log(/(?<dup>a)|(?<dup>b)/.exec("b")?.groups);
console.log("camelCaseStringHere".replace(/(?<=[a-z])(?=[A-Z])/g, "_").toLowerCase());
console.log("$1,234.56 and $99".match(/(?<=\$)[\d,.]+/g));
console.log("price 100 USD, 200 EUR".match(/\d+(?! USD)\b/g), "foobar foobaz".match(/foo(?!bar)\w+/g));
console.log("a1b2c3".replace(/(?<!^)\d/g, "#"));
console.log("1234567.891".replace(/\B(?<!\.\d*)(?=(\d{3})+(?!\d))/g, ","));
