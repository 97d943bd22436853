/**
 * How the LM's linear weights are stored and multiplied: `none` as float32 (the checkpoint's values),
 * `float16` rounded to half precision, `int8`/`int4` weight-only block-wise (com.microsoft
 * `MatMulNBits`, runtime `quantizeBlockwise`).
 */
export type Quantization = "none" | "float16" | "int8" | "int4"

export const QUANTIZATIONS: ReadonlyArray<Quantization> = ["none", "float16", "int8", "int4"]
