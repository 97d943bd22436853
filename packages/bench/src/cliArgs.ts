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

/** Exits with status 2 and the reason: a flag's bad value, before any work. */
export const refuse = (reason: string): never => {
  process.stderr.write(`${reason}\n`)
  process.exit(2)
}

/** The flag's value if it is one of `allowed`; otherwise exit 2 naming the flag and the choices. */
export const oneOf = <A extends string>(flag: string, value: string, allowed: ReadonlyArray<A>): A =>
  (allowed as ReadonlyArray<string>).includes(value)
    ? (value as A)
    : refuse(`--${flag} must be one of ${allowed.join(", ")}, got "${value}"`)

/** A whole number of at least `min` (frames, threads, seconds...); otherwise exit 2 naming the flag. */
export const whole = (flag: string, value: string, min: number): number => {
  const n = Number(value)
  return Number.isInteger(n) && n >= min
    ? n
    : refuse(`--${flag} must be a whole number ≥ ${min}, got "${value}"`)
}

/** A comma-separated list's items. */
export const list = (value: string): Array<string> => value.split(",").filter((x) => x.length > 0)

/** A comma-separated list of whole numbers of at least `min`. */
export const wholeList = (flag: string, value: string, min: number): Array<number> =>
  list(value).map((x) => whole(flag, x, min))
