import { type ParseArgsConfig, parseArgs } from "node:util"

type Options = NonNullable<ParseArgsConfig["options"]>

/**
 * A benchmark entry point's flags (`--` dropped): `--help` prints `usage` and every flag with its
 * default and exits; an unknown flag or a missing value exits with status 2, naming it, after the same
 * list, instead of node's stack trace.
 */
export const benchArgs = <O extends Options>(usage: string, options: O) => {
  const flags = Object.entries(options)
    .map(([name, o]) => {
      const value = o.type === "boolean" ? "" : " VALUE"
      const fallback = o.default === undefined || o.default === false ? "" : `  (default ${o.default})`
      return `  --${name}${value}${fallback}`
    })
    .join("\n")
  const text = `${usage.trim()}\n\nFlags:\n${flags}\n  --help\n`
  const argv = process.argv.slice(2).filter((a) => a !== "--")
  if (argv.includes("--help") || argv.includes("-h")) {
    process.stdout.write(text)
    process.exit(0)
  }
  try {
    return parseArgs({ args: argv, options }).values
  } catch (error) {
    process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n\n${text}`)
    process.exit(2)
  }
}
