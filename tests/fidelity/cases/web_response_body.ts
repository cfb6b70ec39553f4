const res = new Response(JSON.stringify({ ok: true, items: [1, 2, 3] }), {
  status: 201,
  statusText: "Created",
  headers: { "content-type": "application/json" },
});
console.log(res.status, res.statusText, res.ok, res.headers.get("content-type"), res.bodyUsed, res.type, res.url, res.redirected);
console.log(await res.json(), res.bodyUsed);
try { await res.text(); } catch (e) { console.log((e as Error).name + ": " + (e as Error).message); }
const r2 = Response.json({ hello: "wörld" }, { status: 200 });
console.log(r2.headers.get("content-type"), await r2.text());
const r3 = new Response(new Uint8Array([104, 105]));
console.log(await r3.arrayBuffer(), new Response("x").clone().status);
const r4 = Response.redirect("https://example.com/next", 302);
console.log(r4.status, r4.headers.get("location"));
console.log(Response.error().type, Response.error().status);
const r5 = new Response(null, { status: 204 });
console.log(r5.body, await r5.text() === "");
try { new Response("x", { status: 99 }); } catch (e) { console.log((e as Error).name + ": " + (e as Error).message); }
const stream = new ReadableStream({ start(c) { c.enqueue(new TextEncoder().encode("streamed ")); c.enqueue(new TextEncoder().encode("body")); c.close(); } });
console.log(await new Response(stream).text());
const form = new FormData();
form.append("name", "Ada");
form.append("lang", "en");
const fr = new Response(new URLSearchParams({ a: "1", b: "2" }));
console.log(fr.headers.get("content-type"), [...(await fr.formData()).entries()]);
console.log(new Response("plain").headers.get("content-type"));
