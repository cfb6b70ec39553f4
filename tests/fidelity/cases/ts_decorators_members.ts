function logged<This, Args extends any[], R>(target: (this: This, ...a: Args) => R, context: ClassMethodDecoratorContext<This, (this: This, ...a: Args) => R>) {
  const name = String(context.name);
  return function (this: This, ...args: Args): R {
    console.log(`-> ${name}(${args.join(", ")})`);
    const r = target.call(this, ...args);
    console.log(`<- ${name} = ${r}`);
    return r;
  };
}
function defaultValue<T>(v: T) {
  return function (_: undefined, context: ClassFieldDecoratorContext) {
    console.log("field decorator for", String(context.name), context.kind, context.static, context.private);
    return (initial: T) => initial ?? v;
  };
}
function bound(_t: Function, context: ClassMethodDecoratorContext) {
  context.addInitializer(function (this: any) { this[context.name] = this[context.name].bind(this); });
}
function clamp(min: number, max: number) {
  return function (target: ClassAccessorDecoratorTarget<any, number>, context: ClassAccessorDecoratorContext) {
    return {
      set(this: any, v: number) { target.set.call(this, Math.min(max, Math.max(min, v))); },
      get(this: any) { return target.get.call(this); },
    };
  };
}
class Calculator {
  @defaultValue(10) base: number | undefined = undefined;
  @defaultValue("calc") static label: string | undefined;
  @clamp(0, 100) accessor percent = 0;
  @logged add(a: number, b: number) { return a + b + (this.base ?? 0); }
  @bound whoAmI() { return this instanceof Calculator ? "calculator" : "lost"; }
  @logged static twice(x: number) { return x * 2; }
}
const c = new Calculator();
c.add(1, 2);
Calculator.twice(21);
const { whoAmI } = c;
console.log(whoAmI(), c.base, Calculator.label);
c.percent = 150;
console.log(c.percent);
c.percent = -5;
console.log(c.percent);
