// Summary statistics of a small data set
const data = [12.5, 7.25, 19.0, 3.3, 8.8, 15.15, 10.0, 4.4];

const sum = data.reduce((a, b) => a + b, 0);
const mean = sum / data.length;
const sorted = [...data].sort((a, b) => a - b);
const median = (sorted[3] + sorted[4]) / 2;
const variance = data.reduce((acc, x) => acc + (x - mean) ** 2, 0) / (data.length - 1);
const stddev = Math.sqrt(variance);

console.log({ sum, mean, median, variance, stddev });
console.log(`Mean: ${mean.toFixed(3)}, Std dev: ${stddev.toFixed(3)}`);
console.log("min/max:", Math.min(...data), Math.max(...data));
console.log(sorted);
const histogram = Object.fromEntries([0, 5, 10, 15].map((lo) => [`${lo}-${lo + 5}`, data.filter((x) => x >= lo && x < lo + 5).length]));
console.log(histogram);
console.log(typeof Math.sumPrecise === "function" ? Math.sumPrecise([0.1, 0.2, 0.3]) : "no sumPrecise");
