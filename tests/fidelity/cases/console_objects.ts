const user = {
  id: 1,
  name: "Ada Lovelace",
  email: "ada@example.com",
  roles: ["admin", "editor"],
  profile: { address: { city: "London", geo: { lat: 51.5, lng: -0.12, extra: { deep: { deeper: true } } } } },
  active: true,
  score: null,
  notes: undefined,
  "kebab-key": 1,
  123: "numeric key",
  [Symbol("meta")]: "sym",
};
console.log(user);
console.log("User:", user.name, user.roles, user.profile.address);
console.log([user.profile]);
console.log({ a: { b: { c: { d: { e: { f: 1 } } } } } });
console.log([[1, [2, [3, [4, [5, [6]]]]]]]);
console.log({ empty: {}, emptyArr: [], nestedEmpty: [[], {}], str: "", zero: 0, negZero: -0 });
console.log(Object.create(null), Object.assign(Object.create(null), { x: 1 }));
console.log({ fn() {}, arrow: () => {}, named: function foo() {}, async am() {}, *gen() {}, cls: class Foo {} });
console.log({ get lazy() { return 42; }, set only(v: number) {}, get both() { return 1; }, set both(v) {} });
console.log(["a", 'single\'quote', "double\"quote", `back\`tick`, "new\nline", "tab\t", "uni\u0001"]);
console.log({ longString: "x".repeat(120) });
console.log(new Array(5), [1, , 3], [undefined, null]);
console.log(Array.from({ length: 120 }, (_, i) => i));
console.log(Object.fromEntries(Array.from({ length: 30 }, (_, i) => [`key${i}`, i])));
