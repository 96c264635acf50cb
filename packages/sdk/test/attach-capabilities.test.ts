import {
  BINARY_BATCH_CAPABILITY,
  BINARY_RECORDS_CAPABILITY,
  makeEnvelope,
  type NodeAttachAck,
  resolveLimits,
} from "@fame/protocol";
import { describe, expect, it } from "vitest";
import { type AttachPlan, attachRequest, sessionFrom } from "../src/connection/attach.js";
import { NodeSigner } from "../src/connection/node-signer.js";

const plan = (): AttachPlan => ({
  url: "wss://127.0.0.1:1/fame",
  systemId: "node1",
  instanceId: "i-1",
  logicals: [],
  signer: NodeSigner.generate(),
});

function ack(extra: Partial<NodeAttachAck>) {
  return makeEnvelope<NodeAttachAck>({
    sid: "sentinel1",
    frame: { type: "NodeAttachAck", ok: true, assignedPath: "/sentinel1/node1", ...extra },
  });
}

describe("binary record capabilities at attach", () => {
  it("a node that takes binary records also offers the batch-list form; one that does not offers neither", () => {
    expect(attachRequest(plan(), true, false, true).frame.capabilities).toEqual(
      expect.arrayContaining([BINARY_RECORDS_CAPABILITY, BINARY_BATCH_CAPABILITY]),
    );
    const textOnly = attachRequest(plan(), true, false, false).frame.capabilities ?? [];
    expect(textOnly).not.toContain(BINARY_RECORDS_CAPABILITY);
    expect(textOnly).not.toContain(BINARY_BATCH_CAPABILITY);
  });

  it("sends batch lists as bytes only when the sentinel says it takes them, with binary records", () => {
    const limits = resolveLimits({});
    expect(sessionFrom(ack({ binaryRecords: true, binaryBatch: true }), limits).binaryBatch).toBe(true);
    // a sentinel of an older release answers binaryRecords alone
    expect(sessionFrom(ack({ binaryRecords: true }), limits).binaryBatch).toBe(false);
    // the batch form is a form of binary records: without them it means nothing
    expect(sessionFrom(ack({ binaryBatch: true }), limits).binaryBatch).toBe(false);
  });
});

describe("an attach refusal", () => {
  it("names the setting a node started without admission is missing, and nothing more otherwise", () => {
    const limits = resolveLimits({});
    const refusal = (code: string, reason: string) => () =>
      sessionFrom(ack({ ok: false, code, reason } as Partial<NodeAttachAck>), limits);
    expect(refusal("ticket_invalid", "attach ticket required")).toThrow(
      /attach ticket required \(this sentinel admits nodes through Welcome: set FAME_ADMISSION_PROFILE=welcome/,
    );
    expect(refusal("ticket_invalid", "attach ticket refused: expired")).toThrow(
      /^attach refused: attach ticket refused: expired$/,
    );
  });
});
