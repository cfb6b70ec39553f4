const e = new DOMException("Something failed", "NotFoundError");
console.log(e.name, e.message, e.code, e instanceof Error, e instanceof DOMException);
console.log(String(e), Object.prototype.toString.call(e));
console.log(new DOMException("x").name, new DOMException("x", "AbortError").code, DOMException.ABORT_ERR);
try {
  structuredClone(() => {});
} catch (err) {
  console.log(err instanceof DOMException, (err as DOMException).name, (err as DOMException).code);
}
try {
  throw new DOMException("Quota hit", "QuotaExceededError");
} catch (err) {
  console.log(`${(err as Error).name}: ${(err as Error).message}`);
}
