import * as os from "node:os"
import * as path from "node:path"
import { Effect } from "effect"
import { afterEach, describe, expect, it } from "vitest"
import { parseServerArgs, type ServerArgs } from "../src/server/main.ts"
import { settingsFromConfig } from "../src/server/model-engines.ts"
import { Client, type RunningServer, smokeRunConfig, startFromFlags, tone, waitFor } from "./helpers.ts"

let servers: RunningServer[] = []
afterEach(async () => {
  await Promise.all(servers.map((s) => s.close()))
  servers = []
})

const parse = async (argv: ReadonlyArray<string>) => {
  const args = await Effect.runPromise(parseServerArgs(argv))
  if (args === "help") throw new Error("help")
  return args as ServerArgs
}
const problems = (argv: ReadonlyArray<string>) =>
  Effect.runPromise(Effect.flip(parseServerArgs(argv))).then((e) => e.message.split("\n"))

/** A run configuration naming the smoke models by paths relative to its own folder. */
const smokeYaml = (extra = "") =>
  smokeRunConfig("pp-web-config-", [
    "runtime:",
    "  device: cpu",
    "  quantization: none",
    "  threads: 2",
    "sampling:",
    "  temp: 0.6",
    "  seed: 7",
    extra,
  ])

describe("the web server's engine settings are the CLI's", () => {
  it("--config YAML plus --device/--quantization/--context/--threads become `personaplex run`'s settings", async () => {
    const { dir, file } = await smokeYaml()
    const args = await parse([
      "--config",
      file,
      "--quantization",
      "int8",
      "--context",
      "750",
      "--threads",
      "3",
    ])
    expect(args.engine).toBe("models")
    const settings = await Effect.runPromise(settingsFromConfig(args.config, args.overrides))
    expect(settings).toMatchObject({
      device: "cpu",
      quantization: "int8",
      context: 750,
      threads: 3,
      sampling: { temp: 0.6, seed: 7 },
      // 10 s windows unless the config or --window-frames says otherwise
      windowFrames: 125,
      models: { _tag: "Files", mimi: path.join(dir, "models", "mimi-smoke.safetensors") },
    })
    const longer = await parse(["--config", file, "--window-frames", "40"])
    expect((await Effect.runPromise(settingsFromConfig(longer.config))).windowFrames).toBe(40)
    const { file: withDuration } = await smokeYaml("conversation:\n  duration: 15")
    const fromFile = await parse(["--config", withDuration])
    expect((await Effect.runPromise(settingsFromConfig(fromFile.config))).windowFrames).toBe(188)
  })

  it("chooses the engine: smoke with no model flags, models with --config or a model flag", async () => {
    expect((await parse([])).engine).toBe("smoke")
    expect((await parse(["--model-dir", "/weights"])).engine).toBe("models")
    expect((await parse(["--hf-repo", "nvidia/personaplex-7b-v1"])).config.model).toEqual({
      hf_repo: "nvidia/personaplex-7b-v1",
    })
    expect((await parse(["--engine", "echo"])).engine).toBe("echo")
  })

  it("reports every bad flag at once, each by its name, with the CLI's wording for engine settings", async () => {
    expect(
      await problems([
        "--port",
        "x",
        "--max-sessions",
        "0",
        "--wait-timeout=-3",
        "--log-format",
        "xml",
        "--device",
        "gpu",
        "--threads",
        "0",
        "--tls-cert",
        "cert.pem",
      ]),
    ).toEqual([
      '--port: expected an integer between 0 and 65535, got "x"',
      '--max-sessions: expected an integer ≥ 1, got "0"',
      '--wait-timeout: expected a number of seconds > 0, got "-3"',
      '--log-format: expected one of pretty, json, got "xml"',
      "--tls-cert and --tls-key: give both (the certificate and its private key, PEM)",
      '--device: expected one of "cpu", "webgpu", got "gpu"',
      "--threads: expected an integer ≥ 1, got 0",
    ])
    expect(await problems(["--nope"])).toEqual([expect.stringMatching(/Unknown option '--nope'/)])
    expect(await problems(["--engine", "echo", "--config", "x.yaml"])).toEqual([
      "--engine echo runs no model: drop --config and the model flags, or use --engine models",
    ])
    const { file } = await smokeYaml("secondary_model:\n  kind: magic")
    const configProblem = await Effect.runPromise(Effect.flip(parseServerArgs(["--config", file])))
    expect(configProblem._tag).toBe("ConfigError")
    expect(configProblem.message).toContain("secondary_model.kind: expected one of")
  })

  it("the CLI's cross-field checks stop the start: --graph-capture needs device webgpu", async () => {
    const error = await startFromFlags([
      "--graph-capture",
      "--smoke-cache",
      path.join(os.tmpdir(), "pp-gc"),
    ]).then(
      () => undefined,
      (e: unknown) => e,
    )
    expect(String(error)).toContain("runtime.graph_capture: needs device webgpu, the device is cpu")
  })

  it("a server started with --config and --quantization int8 holds a conversation on the models the config names", async () => {
    const { file } = await smokeYaml()
    const server = await startFromFlags([
      "--config",
      file,
      "--quantization",
      "int8",
      "--voices",
      path.dirname(file),
    ])
    servers.push(server)
    expect(server.started.engine).toBe("models")
    const health = (await (await fetch(`${server.url}/api/health`)).json()) as {
      engine: string
      device: string
    }
    expect(health).toMatchObject({ engine: "personaplex-loop", device: "cpu" })
    const client = Client.connect(server, { text_prompt: "You count sheep.", events: "json" })
    await client.handshake
    await client.sendFrames(tone(6))
    await waitFor("agent audio", () => client.received.length >= 3, 30_000)
    expect(client.errors).toEqual([])
    expect(client.events.find((e) => e.type === "prompt")).toMatchObject({
      prompt: "<system> You count sheep. <system>",
    })
    await client.close()
  })
})
