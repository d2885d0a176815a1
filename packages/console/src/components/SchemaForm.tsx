import { type ReactNode, useId } from 'react';

/** The part of JSON Schema the generated form understands; anything else is edited as JSON. */
export interface FieldSchema {
  type?: string | string[];
  title?: string;
  description?: string;
  minimum?: number;
  maximum?: number;
  exclusiveMinimum?: number;
  exclusiveMaximum?: number;
  minLength?: number;
  maxLength?: number;
  pattern?: string;
  enum?: unknown[];
  properties?: Record<string, FieldSchema>;
  required?: string[];
  additionalProperties?: boolean | FieldSchema;
}

const typeOf = (s: FieldSchema): string | undefined => (Array.isArray(s.type) ? s.type[0] : s.type);

/** Problems of `value` against `schema` (the subset above), each at its JSON Pointer below `path`. */
export function validate(schema: FieldSchema, value: unknown, path = ''): { path: string; message: string }[] {
  const out: { path: string; message: string }[] = [];
  const t = typeOf(schema);
  if (schema.enum && !schema.enum.some((e) => JSON.stringify(e) === JSON.stringify(value))) {
    out.push({ path, message: `must be one of ${schema.enum.map((e) => JSON.stringify(e)).join(', ')}` });
    return out;
  }
  if (t === 'number' || t === 'integer') {
    if (typeof value !== 'number' || !Number.isFinite(value)) return [{ path, message: 'must be a number' }];
    if (t === 'integer' && !Number.isInteger(value)) out.push({ path, message: 'must be a whole number' });
    if (schema.minimum !== undefined && value < schema.minimum)
      out.push({ path, message: `must be ≥ ${schema.minimum}` });
    if (schema.maximum !== undefined && value > schema.maximum)
      out.push({ path, message: `must be ≤ ${schema.maximum}` });
    if (schema.exclusiveMinimum !== undefined && value <= schema.exclusiveMinimum)
      out.push({ path, message: `must be > ${schema.exclusiveMinimum}` });
    if (schema.exclusiveMaximum !== undefined && value >= schema.exclusiveMaximum)
      out.push({ path, message: `must be < ${schema.exclusiveMaximum}` });
  } else if (t === 'string') {
    if (typeof value !== 'string') return [{ path, message: 'must be text' }];
    if (schema.minLength !== undefined && value.length < schema.minLength)
      out.push({ path, message: `must have at least ${schema.minLength} characters` });
    if (schema.maxLength !== undefined && value.length > schema.maxLength)
      out.push({ path, message: `must have at most ${schema.maxLength} characters` });
    if (schema.pattern !== undefined) {
      try {
        if (!new RegExp(schema.pattern, 'u').test(value)) out.push({ path, message: `must match ${schema.pattern}` });
      } catch {
        // a pattern the browser cannot compile is left to the server
      }
    }
  } else if (t === 'boolean') {
    if (typeof value !== 'boolean') out.push({ path, message: 'must be true or false' });
  } else if (t === 'object' && schema.properties) {
    if (typeof value !== 'object' || value === null || Array.isArray(value))
      return [{ path, message: 'must be an object' }];
    const obj = value as Record<string, unknown>;
    for (const name of schema.required ?? []) {
      if (obj[name] === undefined) out.push({ path: `${path}/${name}`, message: 'is required' });
    }
    for (const [name, sub] of Object.entries(schema.properties)) {
      if (obj[name] !== undefined) out.push(...validate(sub, obj[name], `${path}/${name}`));
    }
  }
  return out;
}

/** Whether the form can render this schema field by field (else the variant is edited as JSON). */
export function formable(schema: FieldSchema): boolean {
  const t = typeOf(schema);
  if (schema.enum) return true;
  if (t === 'number' || t === 'integer' || t === 'string' || t === 'boolean') return true;
  return t === 'object' && !!schema.properties && Object.values(schema.properties).every(formable);
}

/**
 * One value edited through its schema: number inputs with bounds, selects for enums, checkboxes, text, and a
 * fieldset per nested object. `errors` are shown under the field they belong to (by JSON Pointer).
 */
export function SchemaField(props: {
  schema: FieldSchema;
  value: unknown;
  onChange: (value: unknown) => void;
  label: string;
  path: string;
  errors: { path: string; message: string }[];
}) {
  const { schema, value, onChange, label, path, errors } = props;
  const id = useId();
  const t = typeOf(schema);
  const own = errors.filter((e) => e.path === path);
  const errorId = `${id}-err`;
  const described = own.length > 0 ? errorId : undefined;
  const errorList =
    own.length > 0 ? (
      <span id={errorId} className="error field-error" data-path={path}>
        {own.map((e) => `${label} ${e.message}`).join('; ')}
      </span>
    ) : null;

  if (t === 'object' && schema.properties && !schema.enum) {
    const obj = (typeof value === 'object' && value !== null ? value : {}) as Record<string, unknown>;
    return (
      <fieldset className="fieldset">
        <legend>{label}</legend>
        {Object.entries(schema.properties).map(([name, sub]) => (
          <SchemaField
            key={name}
            schema={sub}
            value={obj[name]}
            label={sub.title ?? name}
            path={`${path}/${name}`}
            errors={errors}
            onChange={(v) => onChange({ ...obj, [name]: v })}
          />
        ))}
        {errorList}
      </fieldset>
    );
  }
  let input: ReactNode;
  if (schema.enum) {
    const index = schema.enum.findIndex((e) => JSON.stringify(e) === JSON.stringify(value));
    input = (
      <select
        id={id}
        value={index < 0 ? '' : String(index)}
        aria-invalid={own.length > 0}
        aria-describedby={described}
        onChange={(e) => onChange(schema.enum?.[Number(e.target.value)])}
      >
        {index < 0 && <option value="">(choose)</option>}
        {schema.enum.map((e, i) => (
          <option key={JSON.stringify(e)} value={String(i)}>
            {String(e)}
          </option>
        ))}
      </select>
    );
  } else if (t === 'boolean') {
    input = (
      <input
        id={id}
        type="checkbox"
        checked={value === true}
        aria-describedby={described}
        onChange={(e) => onChange(e.target.checked)}
      />
    );
  } else if (t === 'number' || t === 'integer') {
    input = (
      <input
        id={id}
        type="number"
        min={schema.minimum}
        max={schema.maximum}
        step={t === 'integer' ? 1 : 'any'}
        value={typeof value === 'number' ? String(value) : ''}
        aria-invalid={own.length > 0}
        aria-describedby={described}
        onChange={(e) => onChange(e.target.value === '' ? undefined : Number(e.target.value))}
      />
    );
  } else {
    input = (
      <input
        id={id}
        value={typeof value === 'string' ? value : ''}
        maxLength={schema.maxLength}
        aria-invalid={own.length > 0}
        aria-describedby={described}
        onChange={(e) => onChange(e.target.value)}
      />
    );
  }
  const bounds = [
    schema.minimum !== undefined ? `min ${schema.minimum}` : '',
    schema.maximum !== undefined ? `max ${schema.maximum}` : '',
  ]
    .filter(Boolean)
    .join(', ');
  return (
    <div className="field">
      <label htmlFor={id}>
        {label}
        {bounds && <span className="muted small"> ({bounds})</span>}
      </label>
      {input}
      {errorList}
    </div>
  );
}
