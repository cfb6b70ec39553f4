// TC39 (stage 3) decorators, Deno's default
const registry: string[] = [];
function register<T extends new (...a: any[]) => any>(value: T, context: ClassDecoratorContext) {
  registry.push(String(context.name));
  context.addInitializer(function () { registry.push(`initialized ${String(context.name)}`); });
  return value;
}
function sealed(value: Function, context: ClassDecoratorContext) {
  console.log("sealed decorator:", context.kind, String(context.name));
}
function withTimestamp<T extends new (...a: any[]) => object>(Base: T, _ctx: ClassDecoratorContext) {
  return class extends Base { createdAt = "2024-01-01T00:00:00Z"; };
}
@register
@sealed
class Service { constructor(public name = "svc") {} }

@withTimestamp
class Entity { id = 1; }

console.log(registry);
console.log(new Service(), new Entity());
console.log(Service.name, Entity.name);
