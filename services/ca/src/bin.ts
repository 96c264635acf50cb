#!/usr/bin/env node
import { runMain } from "@fame/http-service";
import { caConfigFromEnv } from "./config.js";
import { startCaService } from "./service.js";

runMain(async () => startCaService(await caConfigFromEnv()), "fame-ca");
