#!/usr/bin/env node
import { envWithYaml } from "@fame/config";
import { runMain } from "@fame/http-service/main";
import { caConfigFromEnv } from "./config.js";
import { startCaService } from "./service.js";

runMain(async () => startCaService(await caConfigFromEnv(envWithYaml())), "fame-ca");
