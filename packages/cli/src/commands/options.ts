import { Option } from "effect"

/** `Option` flags → exact optional fields. */
export const opt = <A>(o: Option.Option<A>): A | undefined => Option.getOrUndefined(o)

export const isTerminal = () => process.stdout.isTTY === true
export const writeOut = (text: string) => void process.stdout.write(text)
