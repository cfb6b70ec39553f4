class Store extends EventTarget {
  #count = 0;
  increment() {
    this.#count++;
    this.dispatchEvent(new CustomEvent("change", { detail: { count: this.#count } }));
  }
}
const store = new Store();
const listener = (e: Event) => console.log("change", (e as CustomEvent).detail);
store.addEventListener("change", listener);
store.addEventListener("change", () => console.log("once"), { once: true });
store.increment();
store.increment();
store.removeEventListener("change", listener);
store.increment();
const target = new EventTarget();
target.addEventListener("ping", (e) => { console.log("first", e.type, e.eventPhase, e.cancelable); e.stopImmediatePropagation(); });
target.addEventListener("ping", () => console.log("never"));
target.dispatchEvent(new Event("ping"));
const ev = new Event("submit", { cancelable: true });
target.addEventListener("submit", (e) => e.preventDefault());
console.log(target.dispatchEvent(ev), ev.defaultPrevented);
target.addEventListener("obj", { handleEvent(e: Event) { console.log("handleEvent", e.type); } });
target.dispatchEvent(new Event("obj"));
console.log(new CustomEvent("x", { detail: 1 }));
console.log(new Event("y").timeStamp >= 0, String(new Event("z")));
const err = new ErrorEvent("error", { message: "bad", lineno: 3 });
console.log(err.message, err.lineno);
