import type { Bucket } from "../bucket.js";
import type { TicketLedger } from "../types.js";
import { isObj, num } from "./values.js";

export interface SpentTicket {
  expiresAt: number;
}

export function parseSpentTicket(raw: unknown): SpentTicket | undefined {
  return isObj(raw) && num(raw["expiresAt"]) ? { expiresAt: raw["expiresAt"] } : undefined;
}

/** Single use of attach tickets, decided by create-if-absent in the shared bucket. */
export class BucketTicketLedger implements TicketLedger {
  constructor(private readonly bucket: Bucket<SpentTicket>) {}

  async spend(jti: string, expiresAt: number): Promise<boolean> {
    return (await this.bucket.create(jti, { expiresAt })) !== undefined;
  }
}
