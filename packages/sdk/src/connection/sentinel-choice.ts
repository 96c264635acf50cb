/**
 * Which sentinel a node dials next. Admission names the sentinel Welcome placed the node on
 * and, in a cluster, every live one (preferred first). Welcome learns of a dead sentinel only
 * when its heartbeat ages out of the registry, so right after a failure it may still prefer
 * that one: the sentinels that failed during this outage go last, in Welcome's order, until
 * the node is attached again.
 */
export class SentinelChoice {
  private readonly failed = new Set<string>();

  /** the URLs to try for one attach, best first: `preferred`, then `all`, failed ones last */
  order(preferred: string, all: readonly string[] | undefined): string[] {
    const fresh: string[] = [];
    const tried: string[] = [];
    for (const url of all === undefined || all.length === 0 ? [preferred] : [preferred, ...all]) {
      if (fresh.includes(url) || tried.includes(url)) continue;
      (this.failed.has(url) ? tried : fresh).push(url);
    }
    return fresh.concat(tried);
  }

  /** `url` could not be dialled, refused the attach, or its link was lost */
  markFailed(url: string): void {
    if (url !== "") this.failed.add(url);
  }

  /** attached again: the next outage starts from Welcome's preference */
  attached(): void {
    this.failed.clear();
  }
}
