export {
  type AccessPolicyDocument,
  addressPatternCovers,
  type CallRule,
  DEFAULT_RESERVED_LOGICALS,
  isAddressPattern,
  isPrincipalPattern,
  loadAccessPolicyFile,
  parseAccessPolicy,
  principalMatches,
  type ServeRule,
  serveGrantsFor,
} from "./access-policy-document.js";
