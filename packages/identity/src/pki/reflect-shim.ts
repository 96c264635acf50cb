/**
 * @peculiar/x509 resolves its algorithm providers through tsyringe, which refuses to load
 * unless `Reflect.getMetadata` & co. exist (normally supplied by the reflect-metadata
 * package). That package is not a dependency here, and tsyringe only stores/reads
 * constructor parameter metadata, so this tiny WeakMap-backed subset is enough.
 * It installs nothing if a real polyfill is already present.
 */
type MetadataKey = unknown;
type MetadataTarget = object;

const store = new WeakMap<MetadataTarget, Map<MetadataKey, unknown>>();

function ownMap(target: MetadataTarget, create: boolean): Map<MetadataKey, unknown> | undefined {
  let map = store.get(target);
  if (map === undefined && create) {
    map = new Map();
    store.set(target, map);
  }
  return map;
}

const reflect = Reflect as unknown as Record<string, unknown>;

if (typeof reflect["getMetadata"] !== "function") {
  reflect["defineMetadata"] = (key: MetadataKey, value: unknown, target: MetadataTarget): void => {
    ownMap(target, true)!.set(key, value);
  };
  reflect["getOwnMetadata"] = (key: MetadataKey, target: MetadataTarget): unknown =>
    ownMap(target, false)?.get(key);
  reflect["hasOwnMetadata"] = (key: MetadataKey, target: MetadataTarget): boolean =>
    ownMap(target, false)?.has(key) ?? false;
  reflect["getMetadata"] = (key: MetadataKey, target: MetadataTarget): unknown => {
    for (let o: MetadataTarget | null = target; o !== null; o = Object.getPrototypeOf(o) as object | null) {
      const map = ownMap(o, false);
      if (map?.has(key)) return map.get(key);
    }
    return undefined;
  };
  reflect["hasMetadata"] = (key: MetadataKey, target: MetadataTarget): boolean =>
    (reflect["getMetadata"] as (k: MetadataKey, t: MetadataTarget) => unknown)(key, target) !== undefined;
  reflect["metadata"] =
    (key: MetadataKey, value: unknown) =>
    (target: MetadataTarget): void => {
      ownMap(target, true)!.set(key, value);
    };
}

export {};
