const req = new Request("https://api.example.com/users?id=7", {
  method: "post",
  headers: { "Content-Type": "application/json", Authorization: "Bearer t0k3n" },
  body: JSON.stringify({ name: "Ada" }),
});
console.log(req.method, req.url, req.headers.get("authorization"), req.mode, req.credentials, req.cache, req.redirect);
console.log(await req.json());
const cloneMe = new Request("https://x.test/", { method: "PUT", body: "abc" });
const cl = cloneMe.clone();
console.log(await cloneMe.text(), await cl.text(), cl.method);
try { new Request("https://x.test/", { method: "GET", body: "nope" }); } catch (e) { console.log((e as Error).name + ": " + (e as Error).message); }
try { new Request("not a url"); } catch (e) { console.log((e as Error).name + ": " + (e as Error).message); }
const withSignal = new Request("https://x.test/", { signal: AbortSignal.abort("why") });
console.log(withSignal.signal.aborted, withSignal.signal.reason);
const derived = new Request(new Request("https://api.example.com/users?id=7", { headers: { "content-type": "text/plain" } }), { method: "PATCH" });
console.log(derived.method, derived.url, derived.headers.get("content-type"));
console.log(req);
