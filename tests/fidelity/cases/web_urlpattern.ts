const pattern = new URLPattern({ pathname: "/books/:id(\\d+)/:slug?" });
console.log(pattern.test("https://example.com/books/42/dune"), pattern.test("https://example.com/books/abc"));
const m = pattern.exec("https://example.com/books/42");
console.log(m?.pathname.groups);
const api = new URLPattern("https://api.example.com/v:version/*");
console.log(api.exec("https://api.example.com/v2/users/9")?.pathname.groups, api.protocol, api.hostname, api.pathname);
const routes = [
  { pattern: new URLPattern({ pathname: "/" }), name: "home" },
  { pattern: new URLPattern({ pathname: "/users/:id" }), name: "user" },
  { pattern: new URLPattern({ pathname: "/files/*" }), name: "files" },
];
for (const path of ["/", "/users/7", "/files/a/b.txt", "/nope"]) {
  const hit = routes.find((r) => r.pattern.test({ pathname: path }));
  console.log(path, "->", hit?.name ?? "404", hit ? JSON.stringify(hit.pattern.exec({ pathname: path })!.pathname.groups) : "");
}
