const h = new Headers({ "Content-Type": "application/json", "X-Custom": "one" });
h.append("x-custom", "two");
h.append("Set-Cookie", "a=1");
h.append("Set-Cookie", "b=2");
h.set("Accept", "text/html");
console.log(h.get("content-type"), h.get("X-CUSTOM"), h.has("accept"), h.get("missing"));
console.log([...h], h.getSetCookie());
console.log(h);
h.delete("accept");
console.log(Object.fromEntries(h.entries()));
try { new Headers({ "bad header": "x" }); } catch (e) { console.log((e as Error).name + ": " + (e as Error).message); }
try { h.set("x", "line\nbreak"); } catch (e) { console.log((e as Error).name + ": " + (e as Error).message); }
const h2 = new Headers([["b", "2"], ["a", "1"], ["A", "3"]]);
h2.forEach((v, k) => console.log(k, v));
