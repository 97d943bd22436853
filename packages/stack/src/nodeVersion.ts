/**
 * The Node.js version check every entry point runs first, before anything heavy is imported:
 * onnxruntime-node and Effect fail on older Node in ways that do not say why (Node 20 gives
 * `onnxruntime run failed: Invalid argument` and an empty WAV).
 */

/** The oldest Node.js these programs run on (the root package.json's `engines.node`). */
export const MINIMUM_NODE = "22.19.0"

const parse = (version: string): ReadonlyArray<number> | undefined => {
  const match = /^v?(\d+)\.(\d+)\.(\d+)/.exec(version.trim())
  return match ? [Number(match[1]), Number(match[2]), Number(match[3])] : undefined
}

/** Whether `found` (e.g. "20.11.0" or "v22.19.0") is at least `minimum`; an unreadable version passes. */
export const nodeIsRecentEnough = (found: string, minimum: string = MINIMUM_NODE): boolean => {
  const have = parse(found)
  const need = parse(minimum)!
  if (have === undefined) return true
  for (let i = 0; i < 3; i++) if (have[i] !== need[i]) return have[i]! > need[i]!
  return true
}

/**
 * The refusal printed on a Node.js older than MINIMUM_NODE: which Node was found, which one is needed,
 * and how to get it; `undefined` when `found` is recent enough.
 */
export const nodeVersionProblem = (
  program: string,
  found: string,
  options: { readonly executable?: string; readonly fromRepository?: string } = {},
): string | undefined => {
  if (nodeIsRecentEnough(found)) return undefined
  const executable = options.executable ?? process.execPath
  const fromRepository = options.fromRepository ?? `npx --yes pnpm@12.4.2 exec ${program} ...`
  return [
    `error: ${program} needs Node.js ${MINIMUM_NODE} or newer; this is Node.js ${found.replace(/^v/, "")} (${executable}).`,
    "hint: install Node.js 22 (https://nodejs.org, or `nvm install 22`), or run it from the repository with",
    `      \`${fromRepository}\`, which uses the Node.js 22 the repository installs.`,
  ].join("\n")
}

/** Prints the refusal and exits with status 1 when this Node.js is too old; returns otherwise. */
export const exitOnUnsupportedNode = (
  program: string,
  options: { readonly fromRepository?: string } = {},
): void => {
  const problem = nodeVersionProblem(program, process.versions.node, options)
  if (problem === undefined) return
  process.stderr.write(`${problem}\n`)
  process.exit(1)
}
