/**
 * DER assembly for the two structures that carry the FAME extension: the node CSR and the
 * node certificate. @peculiar/x509's generators re-encode every extension through asn1js,
 * which truncates OID arcs above 2^53 (our 2.25.<UUID> OID), so these are built here from
 * parts the library encodes correctly (standard extensions, names) plus our own bytes.
 */

import { certificateParts } from "./cert-parts.js";
import {
  encodeBitString,
  encodeOid,
  encodeSequence,
  encodeTime,
  encodeTlv,
  encodeUnsignedInteger,
  TAG_SET,
  TAG_UTF8_STRING,
} from "./der.js";
import type { CryptoKey } from "./webcrypto-types.js";

const OID_COMMON_NAME = encodeOid("2.5.4.3");
const OID_EXTENSION_REQUEST = encodeOid("1.2.840.113549.1.9.14");
/** AlgorithmIdentifier for Ed25519 (RFC 8410): parameters absent. */
const ALG_ED25519 = encodeSequence(encodeOid("1.3.101.112"));

/** Name with a single CN (UTF8String). */
export function commonNameDer(cn: string): Uint8Array {
  const atv = encodeSequence(OID_COMMON_NAME, encodeTlv(TAG_UTF8_STRING, new TextEncoder().encode(cn)));
  return encodeSequence(encodeTlv(TAG_SET, atv));
}

async function signEd25519(key: CryptoKey, data: Uint8Array): Promise<Uint8Array> {
  if (key.algorithm.name !== "Ed25519")
    throw new TypeError("node certificates and CSRs are signed with Ed25519");
  return new Uint8Array(await globalThis.crypto.subtle.sign({ name: "Ed25519" }, key, data));
}

export interface TbsParams {
  /** Big-endian positive serial number bytes. */
  serial: Uint8Array;
  issuerNameDer: Uint8Array;
  subjectNameDer: Uint8Array;
  notBefore: Date;
  notAfter: Date;
  spki: Uint8Array;
  /** Each a complete Extension DER. */
  extensions: Uint8Array[];
}

/** RFC 5280 Certificate signed with an Ed25519 issuer key. */
export async function signCertificate(params: TbsParams, issuerKey: CryptoKey): Promise<Uint8Array> {
  const tbs = encodeSequence(
    encodeTlv(0xa0, encodeUnsignedInteger(Uint8Array.of(2))), // [0] EXPLICIT version v3
    encodeUnsignedInteger(params.serial),
    ALG_ED25519,
    params.issuerNameDer,
    encodeSequence(encodeTime(params.notBefore), encodeTime(params.notAfter)),
    params.subjectNameDer,
    params.spki,
    encodeTlv(0xa3, encodeSequence(...params.extensions)), // [3] EXPLICIT Extensions
  );
  const signature = await signEd25519(issuerKey, tbs);
  return encodeSequence(tbs, ALG_ED25519, encodeBitString(signature));
}

/** PKCS#10 CertificationRequest with an extensionRequest attribute, self-signed with Ed25519. */
export async function signCsr(
  subjectNameDer: Uint8Array,
  spki: Uint8Array,
  extensions: Uint8Array[],
  privateKey: CryptoKey,
): Promise<Uint8Array> {
  const extReq = encodeSequence(OID_EXTENSION_REQUEST, encodeTlv(TAG_SET, encodeSequence(...extensions)));
  const info = encodeSequence(
    encodeUnsignedInteger(Uint8Array.of(0)),
    subjectNameDer,
    spki,
    encodeTlv(0xa0, extReq), // [0] IMPLICIT SET OF Attribute
  );
  const signature = await signEd25519(privateKey, info);
  return encodeSequence(info, ALG_ED25519, encodeBitString(signature));
}

/** Raw subject Name of a DER certificate, reused verbatim as the issuer name of what it signs. */
export function subjectNameOf(certDer: Uint8Array): Uint8Array {
  return certificateParts(certDer).subjectName;
}
