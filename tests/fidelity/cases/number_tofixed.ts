// Classic floating point questions
console.log(0.1 + 0.2);
console.log((0.1 + 0.2).toFixed(2));
console.log(0.1 + 0.2 === 0.3, Math.abs(0.1 + 0.2 - 0.3) < Number.EPSILON);
console.log((1.005).toFixed(2), (2.5).toFixed(0), (1.45).toFixed(1), (-1.5).toFixed(0));
console.log((123.456).toPrecision(4), (0.00001234).toPrecision(2), (123456).toPrecision(2));
console.log((123456).toExponential(2), (0).toExponential());
console.log(Math.round(2.5), Math.round(-2.5), Math.round(0.49999999999999994));
console.log(Number.MAX_SAFE_INTEGER, Number.MIN_VALUE, Number.MAX_VALUE);
console.log(1 / 3, 2 / 3, 100 / 3, 1e21, 1e-7, 123e-20);
console.log((255).toString(2), (255).toString(16), (255).toString(36), (-255).toString(16));
console.log((0.5).toString(2), (3.14159).toString(16));
console.log(Number("  42  "), Number(""), Number("0x1f"), Number("1e3"), Number("12px"), Number(null), Number(undefined));
console.log(parseInt("12px"), parseInt("0x1f"), parseInt("101", 2), parseFloat("3.14abc"), parseFloat(".5"));
console.log(Number.isInteger(5.0), Number.isSafeInteger(2 ** 53), Object.is(-0, 0));
console.log(Math.max(), Math.min(), Math.hypot(3, 4), Math.cbrt(27), Math.sign(-3), Math.trunc(-4.7));
console.log(2 ** 0.5, Math.sqrt(2), Math.PI.toFixed(10), Math.E);
