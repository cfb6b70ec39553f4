const a: any = { name: "a", list: [] };
const b: any = { name: "b", parent: a };
a.list.push(b, a);
a.self = a;
console.log(a);
console.log([a, b]);
const m = new Map<string, any>();
m.set("me", m);
console.log(m);
const arr: any[] = [1];
arr.push(arr);
console.log(arr);
const s = new Set<any>();
s.add(s);
console.log(s);
class Node_ { next: Node_ | null = null; constructor(public v: number) {} }
const n1 = new Node_(1), n2 = new Node_(2);
n1.next = n2; n2.next = n1;
console.log(n1);
