/** Lets the owner of the connection log what the RPC layer dropped or could not send. */
export type RpcDiagnosticSink = (event: RpcDiagnostic) => void;
export interface RpcDiagnostic {
  event: string;
  corrId?: string;
  detail?: string;
}

/** Tells `sink` (if any) about `event`; a faulty log sink must not break message handling. */
export function reportDiagnostic(
  sink: RpcDiagnosticSink | undefined,
  event: string,
  corrId?: string,
  detail?: string,
): void {
  if (sink === undefined) return;
  try {
    sink({
      event,
      ...(corrId === undefined ? {} : { corrId }),
      ...(detail === undefined ? {} : { detail }),
    });
  } catch {
    // the sink failed: logging is best effort, the message being handled is not
  }
}
