import { pick, readEnum } from "./settings.js";

export const SECURITY_PROFILES = ["open", "overlay", "strict-overlay"] as const;
export type SecurityProfile = (typeof SECURITY_PROFILES)[number];
export const ADMISSION_PROFILES = ["welcome", "direct", "none"] as const;
export type AdmissionProfile = (typeof ADMISSION_PROFILES)[number];

/**
 * The two profiles every fabric process shares, from FAME_SECURITY_PROFILE /
 * FAME_ADMISSION_PROFILE or the seed-shaped YAML (`node.security.profile`,
 * `node.admission.profile`); the environment wins.
 */
export function readProfiles(
  env: NodeJS.ProcessEnv,
  tree: Record<string, unknown>,
): { securityProfile: SecurityProfile; admissionProfile: AdmissionProfile } {
  return {
    securityProfile: readEnum(
      env["FAME_SECURITY_PROFILE"] || pick(tree, "node.security.profile"),
      "FAME_SECURITY_PROFILE",
      SECURITY_PROFILES,
      "open",
    ),
    admissionProfile: readEnum(
      env["FAME_ADMISSION_PROFILE"] || pick(tree, "node.admission.profile"),
      "FAME_ADMISSION_PROFILE",
      ADMISSION_PROFILES,
      "none",
    ),
  };
}
