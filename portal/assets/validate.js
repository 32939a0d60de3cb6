// Checks a JSON value against the subset of JSON Schema the portal generates for request
// bodies: types, required and unknown properties, enums, nullable, arrays, maps, anyOf and
// `$ref`s into `defs`. Returns [{path, message}], empty when the value fits.

export function validate(value, schema, defs, path = "body") {
  if (schema.$ref) return validate(value, defs[schema.$ref] ?? {}, defs, path);
  if (value === null) {
    return schema.nullable || Object.keys(schema).length === 0 ? [] : [{ path, message: "must not be null" }];
  }
  if (schema.anyOf) {
    const fits = schema.anyOf.some((s) => validate(value, s, defs, path).length === 0);
    return fits ? [] : [{ path, message: "matches none of the allowed shapes" }];
  }
  if (schema.enum) {
    return schema.enum.includes(value) ? [] : [{ path, message: `must be one of ${schema.enum.join(", ")}` }];
  }
  const wrong = (what) => [{ path, message: `must be ${what}` }];
  switch (schema.type) {
    case "string":
      return typeof value === "string" ? [] : wrong("a string");
    case "integer":
      return Number.isInteger(value) ? [] : wrong("an integer");
    case "number":
      return typeof value === "number" ? [] : wrong("a number");
    case "boolean":
      return typeof value === "boolean" ? [] : wrong("true or false");
    case "array":
      if (!Array.isArray(value)) return wrong("an array");
      return value.flatMap((v, i) => validate(v, schema.items ?? {}, defs, `${path}[${i}]`));
    case "object": {
      if (typeof value !== "object" || Array.isArray(value)) return wrong("an object");
      const errors = [];
      if (schema.properties) {
        for (const name of schema.required ?? []) {
          if (!(name in value)) errors.push({ path: `${path}.${name}`, message: "is required" });
        }
        for (const [name, v] of Object.entries(value)) {
          const property = schema.properties[name];
          if (property) errors.push(...validate(v, property, defs, `${path}.${name}`));
          else errors.push({ path: `${path}.${name}`, message: "is not a known field" });
        }
      } else if (schema.additionalProperties) {
        for (const [name, v] of Object.entries(value)) {
          errors.push(...validate(v, schema.additionalProperties, defs, `${path}.${name}`));
        }
      }
      return errors;
    }
    default:
      return [];
  }
}
