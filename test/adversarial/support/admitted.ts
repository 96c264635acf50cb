import type { Admission } from "@fame/identity";
import { NodeSigner } from "@fame/sdk";
import { expect } from "vitest";
import { Attacker } from "./attacker.js";
import { instanceOf } from "./identities.js";

/** where a hand-driven node attaches: a sentinel's attach URL and the fabric's trust bundle */
export interface AttachTarget {
  url: string;
  ca: string;
}

/**
 * A node admitted for real (`admission`: OAuth2 → Welcome → CA), attached by hand at `target`
 * with the logicals it was granted, signing its envelopes with its certified key; the test fails
 * unless the sentinel takes it. Kept in `keep`, for the test to close.
 */
export async function attachAdmitted(
  target: AttachTarget,
  admission: Admission,
  keep: Attacker[],
): Promise<Attacker> {
  const a = await Attacker.connect({ url: target.url, ca: target.ca });
  keep.push(a);
  a.signer = new NodeSigner(admission.seed, admission.x5c);
  const ack = await a.attach({
    systemId: admission.systemId,
    instanceId: instanceOf(admission),
    attachTicket: admission.attachTicket,
    logicals: admission.acceptedLogicals,
  });
  expect(ack.ok).toBe(true);
  return a;
}
