/**
 * Whether a bucket's watch still follows its stream. A watch whose consumer lived on a NATS
 * server that died goes silent; the client hears of the server leaving only when the cluster
 * gossips it (not for servers it was configured with) and of the consumer only after missed
 * heartbeats, so a sentinel could serve a stale cache for a long time. Checked against the
 * stream's last sequence: a watch that has not delivered, by one check, the sequence the stream
 * had reached at the check before has stalled (a live watch is at most a few writes behind).
 */
export class WatchProgress {
  /** the highest revision the current watch delivered */
  private delivered = 0;
  /** the stream's last sequence at the previous check, while the watch was behind it */
  private behindAt: number | undefined;

  /** a new watch starts: its initial values are delivered from the beginning */
  restarted(): void {
    this.delivered = 0;
    this.behindAt = undefined;
  }

  /** the watch delivered an entry at `revision` (applied or not) */
  saw(revision: number): void {
    if (revision > this.delivered) this.delivered = revision;
  }

  /** the watch has delivered everything up to the stream's last sequence `streamLastSeq` */
  caughtUp(streamLastSeq: number): boolean {
    return streamLastSeq <= this.delivered;
  }

  /**
   * One check against the stream's last sequence now. True when the watch should be replaced:
   * it is still short of the sequence the previous check saw.
   */
  stalled(streamLastSeq: number): boolean {
    if (streamLastSeq <= this.delivered) {
      this.behindAt = undefined;
      return false;
    }
    if (this.behindAt !== undefined && this.delivered < this.behindAt) {
      this.behindAt = undefined;
      return true;
    }
    this.behindAt = streamLastSeq;
    return false;
  }
}
