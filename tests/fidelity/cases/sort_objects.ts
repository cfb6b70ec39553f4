type Employee = { name: string; dept: string; salary: number; hired: string };
const staff: Employee[] = [
  { name: "Zoë Adams", dept: "Engineering", salary: 120000, hired: "2019-04-01" },
  { name: "adam smith", dept: "Sales", salary: 65000, hired: "2021-09-15" },
  { name: "Émilie Durand", dept: "Engineering", salary: 120000, hired: "2018-01-20" },
  { name: "Bob Lee", dept: "Sales", salary: 72000, hired: "2020-02-29" },
  { name: "carol King", dept: "Marketing", salary: 80000, hired: "2017-06-30" },
];
const byDeptThenSalaryDesc = staff.toSorted((a, b) => a.dept.localeCompare(b.dept) || b.salary - a.salary || a.name.localeCompare(b.name));
console.table(byDeptThenSalaryDesc);
console.log(staff.map((e) => e.name).sort());
console.log(staff.map((e) => e.name).sort((a, b) => a.localeCompare(b, "en", { sensitivity: "base" })));
console.log(staff.toSorted((a, b) => Date.parse(a.hired) - Date.parse(b.hired)).map((e) => e.hired));
// stability check
const stable = [3, 1, 2, 1, 3].map((v, i) => ({ v, i })).sort((a, b) => a.v - b.v);
console.log(stable.map((x) => `${x.v}@${x.i}`).join(" "));
console.log([10, 9, 1, 100, 25].sort(), [10, 9, 1, 100, 25].sort((a, b) => a - b));
console.log([undefined, 3, null, 1, NaN].sort());
