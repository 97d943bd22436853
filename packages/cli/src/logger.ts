import { Logger } from "effect"

/**
 * Log lines in the CLI's own form, one line each on stderr: `warning: …` (a device fallback, say),
 * `error: …`, or the plain message; no timestamps or fiber ids.
 */
export const cliLogger = Logger.make<unknown, void>(({ logLevel, message }) => {
  const text = (Array.isArray(message) ? message : [message]).map(String).join(" ")
  const prefix =
    logLevel === "Warn" ? "warning: " : logLevel === "Error" || logLevel === "Fatal" ? "error: " : ""
  process.stderr.write(`${prefix}${text}\n`)
})

export const cliLoggerLayer = Logger.layer([cliLogger])
