// The shim must be evaluated before @peculiar/x509 (and its tsyringe dependency) loads;
// side-effect imports keep their position, so this ordering is stable.
import "./reflect-shim.js";
import * as x509 from "@peculiar/x509";

// Use Node's built-in WebCrypto (Ed25519 capable) for every x509 operation.
x509.cryptoProvider.set(globalThis.crypto);

/** The one place the rest of pki/ obtains @peculiar/x509 from, so the set-up above always ran. */
export { x509 };
