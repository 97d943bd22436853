#!/usr/bin/env node
import { NodeRuntime, NodeServices } from "@effect/platform-node"
import { Effect } from "effect"
import { Command } from "effect/cli"
import { cli, version } from "./cli.ts"

Command.run(cli, { version }).pipe(Effect.provide(NodeServices.layer), NodeRuntime.runMain)
