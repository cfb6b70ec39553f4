abstract class Shape {
  abstract readonly name: string;
  abstract area(): number;
  protected static count = 0;
  constructor() { Shape.count++; }
  describe(): string { return `${this.name} with area ${this.area().toFixed(2)}`; }
  static get created() { return Shape.count; }
}
class Circle extends Shape {
  readonly name = "circle";
  constructor(private readonly r: number) { super(); }
  area() { return Math.PI * this.r ** 2; }
}
class Rect extends Shape {
  readonly name = "rect";
  constructor(public w: number, public h: number) { super(); }
  area() { return this.w * this.h; }
}
const shapes: Shape[] = [new Circle(1), new Rect(2, 3), new Circle(0.5)];
shapes.forEach((s) => console.log(s.describe()));
console.log(Shape.created, shapes);
try {
  new (Shape as any)();
  console.log("abstract class is constructible at runtime:", Shape.created);
} catch (e) {
  console.log("threw", (e as Error).message);
}
interface Comparable<T> { compareTo(o: T): number }
class Money implements Comparable<Money> {
  constructor(public readonly cents: number, public readonly currency = "USD") {}
  compareTo(o: Money) { return this.cents - o.cents; }
  toString() { return `${(this.cents / 100).toFixed(2)} ${this.currency}`; }
}
console.log([new Money(500), new Money(150), new Money(1000)].sort((a, b) => a.compareTo(b)).map(String));
class Singleton {
  static #instance?: Singleton;
  private constructor(public readonly createdWith: string) {}
  static get(): Singleton { return (this.#instance ??= new Singleton("first call")); }
}
console.log(Singleton.get() === Singleton.get(), Singleton.get());
class WithStatic { static { console.log("static block ran"); } static value = 7; }
console.log(WithStatic.value);
