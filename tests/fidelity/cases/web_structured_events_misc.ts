// Misc web globals LLMs use without thinking about the runtime
console.log(typeof fetch, typeof WebSocket, typeof BroadcastChannel, typeof localStorage, typeof sessionStorage, typeof caches, typeof Worker);
console.log(typeof performance.now(), typeof performance.timeOrigin, typeof reportError, typeof alert, typeof prompt, typeof close, typeof location);
console.log(typeof MessageChannel, typeof ImageData, typeof navigator.gpu, typeof CustomEvent, typeof PromiseRejectionEvent);
const { port1, port2 } = new MessageChannel();
const received = new Promise<void>((resolve) => {
  port2.onmessage = (e) => { console.log("message:", e.data); port1.close(); port2.close(); resolve(); };
});
port1.postMessage({ hello: "world", n: [1, 2] });
await received;
console.log(self === globalThis, typeof window);
