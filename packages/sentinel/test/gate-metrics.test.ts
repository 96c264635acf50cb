import { gateMetricFamilies, renderPrometheus } from "@fame/sentinel";
import { describe, expect, it } from "vitest";

describe("gateMetricFamilies", () => {
  it("counts refusals before attach by stage, handshake timeouts, and connections in their handshake", () => {
    const text = renderPrometheus(
      gateMetricFamilies({
        handshakes: { handshaking: 3, handshakesRefused: 24, handshakeTimeouts: 16 },
        rateLimited: 7,
        pendingFull: 2,
      }),
    );
    expect(text).toContain('fame_sentinel_connections_refused_total{stage="handshake"} 24\n');
    expect(text).toContain('fame_sentinel_connections_refused_total{stage="attach_rate"} 7\n');
    expect(text).toContain('fame_sentinel_connections_refused_total{stage="attach_pending"} 2\n');
    expect(text).toContain(
      "# TYPE fame_sentinel_handshake_timeouts_total counter\nfame_sentinel_handshake_timeouts_total 16\n",
    );
    expect(text).toContain("# TYPE fame_sentinel_handshaking gauge\nfame_sentinel_handshaking 3\n");
  });
});
