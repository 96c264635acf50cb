import type { Logger } from "@fame/logger";
import type { ErrorCode } from "@fame/protocol";
import type { FabricState, StateStatus, Unsubscribe } from "@fame/state";
import { renderPrometheus } from "@fame/telemetry";

/** New work a partitioned sentinel refuses: each would leave state it cannot record. */
export type NewWork = "attach" | "open" | "session";

export interface StateRefusal {
  readonly code: ErrorCode;
  readonly reason: string;
}

const REFUSALS: Readonly<Record<NewWork, StateRefusal>> = Object.freeze({
  attach: Object.freeze({
    code: "state_unavailable",
    reason:
      "the cluster's shared state is unreachable: the attach (its ticket, its node record) cannot be recorded",
  }),
  open: Object.freeze({
    code: "state_unavailable",
    reason: "the cluster's shared state is unreachable: a new channel's pin cannot be recorded",
  }),
  session: Object.freeze({
    code: "state_unavailable",
    reason: "the cluster's shared state is unreachable: a new session's placement cannot be recorded",
  }),
});

/**
 * A cluster sentinel's view of the shared state: the state itself (`fabric`) and the partition
 * rule on top of it. While the backend is unavailable the sentinel refuses the new work it
 * could not record (attach, channel open, session placement) with `state_unavailable`, keeps
 * routing what its caches already know, and takes new work again as soon as the backend is
 * back. Each change is logged once, and every refusal counted.
 */
export class SharedState {
  /** refusals per kind of new work since start */
  readonly refused: Record<NewWork, number> = { attach: 0, open: 0, session: 0 };
  /** times the backend became unavailable */
  outages = 0;
  private ok: boolean;
  private readonly unsubscribe: Unsubscribe;

  constructor(
    readonly fabric: FabricState,
    private readonly log: Logger,
  ) {
    this.ok = fabric.status.state === "ok";
    if (!this.ok) this.outages++;
    this.unsubscribe = fabric.onStatus((status) => this.onStatus(status));
  }

  get clusterId(): string {
    return this.fabric.clusterId;
  }

  /** true while writes can be recorded (the backend's last word) */
  get available(): boolean {
    return this.ok;
  }

  /** undefined when `work` can be recorded; otherwise the refusal to answer with (counted) */
  refusal(work: NewWork): StateRefusal | undefined {
    if (this.ok) return undefined;
    this.refused[work]++;
    return REFUSALS[work];
  }

  /** the same refusal, for a write that failed with StateUnavailableError after the check passed */
  refuse(work: NewWork): StateRefusal {
    this.refused[work]++;
    return REFUSALS[work];
  }

  /** the status page's and /health's view: backend, its status, and what was refused */
  describe(): Record<string, unknown> {
    const s = this.fabric.status;
    return {
      backend: this.fabric.profile,
      clusterId: this.fabric.clusterId,
      status: s.state,
      since: new Date(s.since).toISOString(),
      ...(s.reason !== undefined ? { reason: s.reason } : {}),
      outages: this.outages,
      refused: { ...this.refused },
    };
  }

  /** Prometheus text for /metrics: availability, outages, refusals per kind of new work */
  metricsText(): string {
    return renderPrometheus([
      {
        name: "fame_sentinel_state_available",
        help: "1 while the cluster's shared state can record new work, 0 while it is unreachable.",
        type: "gauge",
        samples: [{ value: this.ok ? 1 : 0 }],
      },
      {
        name: "fame_sentinel_state_outages_total",
        help: "Times the shared state became unreachable.",
        type: "counter",
        samples: [{ value: this.outages }],
      },
      {
        name: "fame_sentinel_state_refusals_total",
        help: "New work refused with state_unavailable, by kind (attach, open, session).",
        type: "counter",
        samples: Object.entries(this.refused).map(([work, value]) => ({ labels: { work }, value })),
      },
    ]);
  }

  /** stops listening to the backend's status (the state itself is closed by its opener) */
  close(): void {
    this.unsubscribe();
  }

  private onStatus(status: StateStatus): void {
    const ok = status.state === "ok";
    if (ok === this.ok) return;
    this.ok = ok;
    if (ok) {
      this.log.info(
        { backend: this.fabric.profile, refused: { ...this.refused } },
        "shared state available again: taking new attaches, channels and sessions",
      );
      return;
    }
    this.outages++;
    this.log.warn(
      { backend: this.fabric.profile, reason: status.reason },
      "shared state unavailable: refusing new attaches, channels and sessions (state_unavailable); routing what is known",
    );
  }
}
