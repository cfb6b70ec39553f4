const factorial = (n: bigint): bigint => (n <= 1n ? 1n : n * factorial(n - 1n));
console.log(factorial(30n));
console.log(factorial(50n).toString().length);
console.log(2n ** 128n, (2n ** 64n - 1n).toString(16), (-255n).toString(2));
console.log(7n / 2n, -7n / 2n, 7n % 3n, -7n % 3n, 10n ** 0n);
console.log(BigInt("0x1fffffffffffff"), BigInt(Number.MAX_SAFE_INTEGER) + 2n, BigInt("  123  "));
console.log(BigInt.asUintN(8, 257n), BigInt.asIntN(8, 255n), BigInt.asUintN(64, -1n));
console.log(typeof 1n, 1n == 1 as any, 1n === (1 as any), 2n > 1, [3n, 1, 2n].sort());
console.log(1n << 100n, 12345678901234567890n & 0xffffn, ~0n);
for (const f of [() => 1n + (1 as any), () => BigInt(1.5), () => BigInt("abc"), () => Math.max(1n as any), () => +(1n as any), () => 1n / 0n]) {
  try { f(); } catch (e) { console.log((e as Error).name + ": " + (e as Error).message); }
}
console.log((123456789012345678901234567890n).toLocaleString("en-US"), (1234n).toLocaleString("de-DE"));
console.log(new Intl.NumberFormat("en-US", { style: "currency", currency: "USD" }).format(99999999999999999999n));
const fib = (n: number) => { let [a, b] = [0n, 1n]; for (let i = 0; i < n; i++) [a, b] = [b, a + b]; return a; };
console.log(fib(100), Number(fib(100)), parseInt("12345678901234567890"));
console.log({ big: 10n }, [1n, -2n], JSON.stringify({ big: String(10n) }));
