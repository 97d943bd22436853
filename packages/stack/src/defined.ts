/**
 * Drops the keys whose value is undefined: builds objects with exact optional keys
 * (`exactOptionalPropertyTypes`) from values that may be missing.
 */
export const defined = <T>(o: { readonly [K in keyof T]: T[K] | undefined }): T =>
  Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as T
