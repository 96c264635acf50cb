#!/usr/bin/env node
import { envWithYaml, SERVICE_YAML_KEYS } from "@fame/config";
import { runMain } from "@fame/http-service/main";
import { caConfigFromEnv } from "./config.js";
import { startCaService } from "./service.js";

runMain(
  async () => startCaService(await caConfigFromEnv(envWithYaml(process.env, SERVICE_YAML_KEYS))),
  "fame-ca",
);
