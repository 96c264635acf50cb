import type { StateStatus, Unsubscribe } from "../types.js";

/**
 * What the NATS backend knows about reaching the server: connected or not, and the status
 * the FabricState reports. Changes are announced to listeners once per transition.
 */
export class NatsLink {
  connected = true;
  closed = false;
  /** the watches are being restarted: the status stays unavailable until they are current */
  recovering = false;
  private current: StateStatus = { state: "ok", since: Date.now() };
  private readonly listeners = new Set<(s: StateStatus) => void>();

  /** set by the backend: starts bringing the state back after a failure */
  recover: () => void = () => {};

  constructor(private readonly onListenerError: (err: unknown) => void) {}

  /** a NATS call failed while connected (timeout, no JetStream quorum, …) */
  failed(reason: string): void {
    this.unavailable(reason);
    this.recover();
  }

  /** a NATS call succeeded: NATS answers again */
  succeeded(): void {
    if (this.current.state !== "ok" && this.connected && !this.closed && !this.recovering) this.ok();
  }

  get status(): StateStatus {
    return this.current;
  }

  onStatus(cb: (s: StateStatus) => void): Unsubscribe {
    this.listeners.add(cb);
    return () => this.listeners.delete(cb);
  }

  ok(): void {
    if (this.current.state === "ok") return;
    this.set({ state: "ok", since: Date.now() });
  }

  unavailable(reason: string): void {
    if (this.current.state === "unavailable") return;
    this.set({ state: "unavailable", since: Date.now(), reason });
  }

  private set(s: StateStatus): void {
    this.current = Object.freeze(s);
    for (const cb of this.listeners) {
      try {
        cb(this.current);
      } catch (err) {
        this.onListenerError(err);
      }
    }
  }
}
