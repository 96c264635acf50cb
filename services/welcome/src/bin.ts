#!/usr/bin/env node
import { runMain } from "@fame/http-service";
import { welcomeConfigFromEnv } from "./config.js";
import { startWelcomeService } from "./service.js";

runMain(async () => startWelcomeService(await welcomeConfigFromEnv()), "fame-welcome");
