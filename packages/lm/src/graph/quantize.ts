/** Weight-only quantization of the LM linears (com.microsoft `MatMulNBits`, block-wise, runtime `quantizeBlockwise`). */
export type Quantization = "none" | "int8" | "int4"
