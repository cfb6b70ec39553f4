const url = new URL("https://user:p%40ss@Example.COM:8080/a/b/../c/./d.html?q=hello world&x=1&x=2#Frag Ment");
console.log(url.href);
console.log({ protocol: url.protocol, username: url.username, password: url.password, host: url.host, hostname: url.hostname, port: url.port, pathname: url.pathname, search: url.search, hash: url.hash, origin: url.origin });
console.log(url);
console.log(new URL("../up?z=1", "https://example.com/a/b/c").href, new URL("//cdn.example.com/x.js", "https://example.com").href);
console.log(new URL("https://münchen.de/straße").href, new URL("https://xn--mnchen-3ya.de").hostname);
console.log(new URL("http://example.com:80/").href, new URL("https://[::1]:443/").host, new URL("http://192.168.0.1.").hostname);
console.log(URL.canParse("not a url"), URL.canParse("/path", "https://x.org"), URL.parse?.("nope"), String(URL.parse?.("mailto:a@b.c")));
try { new URL("/relative"); } catch (e) { console.log((e as Error).name + ": " + (e as Error).message); }
const u = new URL("https://api.example.com/v1/items");
u.searchParams.set("page", "2");
u.searchParams.append("tag", "a&b");
u.searchParams.append("tag", "ü");
u.pathname += "/42";
u.hash = "top";
console.log(u.toString(), JSON.stringify({ u }));
console.log(new URL("file:///home/user/file%20name.txt").pathname, new URL("data:text/plain,hi").protocol, new URL("blob:https://a.com/uuid").origin);
