import { pickHrw } from "./hrw.js";
import type { ReplicaPool } from "./replica-pool.js";

export const LOAD_BALANCER_NAMES = ["round_robin", "random", "least_inflight", "hrw"] as const;
export type LoadBalancerName = (typeof LOAD_BALANCER_NAMES)[number];

export interface LoadBalancerOptions {
  /** Uniform `[0, 1)` source; tests pass a seeded generator. Defaults to Math.random. */
  random?: () => number;
}

/** Picks a member of a pool for new work; never returns a draining or unhealthy member. */
export interface LoadBalancer<N extends { id: string }> {
  readonly name: LoadBalancerName;
  /** `key` is only used by `hrw`; the others ignore it. Undefined when nothing is eligible. */
  pick(pool: ReplicaPool<N>, key?: string): N | undefined;
}

export function isLoadBalancerName(name: string): name is LoadBalancerName {
  return (LOAD_BALANCER_NAMES as readonly string[]).includes(name);
}

/**
 * A strategy by name. State that must survive between picks (the round-robin cursor) lives on
 * the pool, so one balancer can serve every pool of a sentinel.
 */
export function createLoadBalancer<N extends { id: string }>(
  name: LoadBalancerName,
  options: LoadBalancerOptions = {},
): LoadBalancer<N> {
  const random = options.random ?? Math.random;
  switch (name) {
    case "round_robin":
      return {
        name,
        pick: (pool) => pool.nextRoundRobin()?.node,
      };
    case "random":
      return { name, pick: (pool) => pool.randomMember(random)?.node };
    case "least_inflight":
      return { name, pick: (pool) => leastInflight(pool, random) };
    case "hrw":
      return {
        name,
        pick: (pool, key) => (key === undefined ? pool.nextRoundRobin()?.node : pickHrw(key, pool)),
      };
    default: {
      // Names come from configuration at run time, so the type alone does not protect us.
      const unknown: string = name;
      throw new Error(
        `unknown load balancer strategy "${unknown}" (expected ${LOAD_BALANCER_NAMES.join(", ")})`,
      );
    }
  }
}

/**
 * Power of two choices: sample two distinct eligible members and take the one with fewer
 * in-flight requests. Comparing two random members (rather than scanning for the global
 * minimum) avoids every sentinel herding onto the same idle replica.
 */
function leastInflight<N extends { id: string }>(pool: ReplicaPool<N>, random: () => number): N | undefined {
  const a = pool.randomMember(random);
  if (a === undefined) return undefined;
  const b = pool.randomMember(random, a);
  if (b === undefined) return a.node;
  if (a.inflight !== b.inflight) return a.inflight < b.inflight ? a.node : b.node;
  // Otherwise indifferent: in a cluster, a replica attached to this sentinel saves two hops.
  const aRemote = isRemote(a.node);
  if (aRemote !== isRemote(b.node)) return aRemote ? b.node : a.node;
  return random() < 0.5 ? a.node : b.node;
}

/** a member standing for a node attached to another sentinel (a cluster's remote session) */
function isRemote(node: { id: string; remote?: unknown }): boolean {
  return node.remote !== undefined;
}
