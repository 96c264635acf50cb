#!/usr/bin/env node
import { envWithYaml, SERVICE_YAML_KEYS } from "@fame/config";
import { runMain } from "@fame/http-service/main";
import { oauth2ConfigFromEnv } from "./config.js";
import { startOAuth2Service } from "./service.js";

runMain(
  async () => startOAuth2Service(await oauth2ConfigFromEnv(envWithYaml(process.env, SERVICE_YAML_KEYS))),
  "fame-oauth2",
);
