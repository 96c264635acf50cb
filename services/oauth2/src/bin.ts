#!/usr/bin/env node
import { runMain } from "@fame/http-service";
import { oauth2ConfigFromEnv } from "./config.js";
import { startOAuth2Service } from "./service.js";

runMain(async () => startOAuth2Service(await oauth2ConfigFromEnv()), "fame-oauth2");
