// the same key as the services' connection caps (see @fame/http-service/remote-key)
export { remoteKey } from "@fame/http-service/remote-key";
