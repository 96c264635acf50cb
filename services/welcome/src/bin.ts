#!/usr/bin/env node
import { envWithYaml, SERVICE_YAML_KEYS } from "@fame/config";
import { runMain } from "@fame/http-service/main";
import { welcomeConfigFromEnv } from "./config.js";
import { startWelcomeService } from "./service.js";

runMain(
  async () => startWelcomeService(await welcomeConfigFromEnv(envWithYaml(process.env, SERVICE_YAML_KEYS))),
  "fame-welcome",
);
