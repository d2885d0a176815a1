import { useMutation, useQueryClient } from '@tanstack/react-query';
import { type FormEvent, useEffect, useId, useMemo, useState } from 'react';
import { api, type Flag, unwrap } from '../api/client.js';
import { ErrorMessage } from '../components/ErrorMessage.js';
import { type FieldSchema, formable, SchemaField, validate } from '../components/SchemaForm.js';

/**
 * A config knob (a number or object flag with a JSON Schema): each variant edited through a form generated from the
 * schema, checked in the browser before saving (inline, at each field), then by the server (its errors at their
 * JSON paths). Saving is a PUT of the flag with If-Match.
 */
export function KnobEditor({ flag, etag }: { flag: Flag; etag: string | undefined }) {
  const queryClient = useQueryClient();
  const id = useId();
  const schema = flag.schema as FieldSchema;
  const [draft, setDraft] = useState<Record<string, unknown>>(flag.variants);
  const [dirty, setDirty] = useState(false);
  const shown = JSON.stringify(flag.variants);
  useEffect(() => {
    if (!dirty) setDraft(JSON.parse(shown) as Record<string, unknown>);
  }, [shown, dirty]);
  const errors = useMemo(
    () => Object.entries(draft).flatMap(([name, value]) => validate(schema, value, `/variants/${name}`)),
    [draft, schema],
  );
  const save = useMutation({
    mutationFn: async () =>
      unwrap(
        api.PUT('/api/admin/flags/{key}', {
          params: { path: { key: flag.key } },
          body: { ...flag, variants: draft },
          headers: etag ? { 'if-match': etag } : {},
        }),
      ),
    onSuccess: async () => {
      setDirty(false);
      await queryClient.invalidateQueries({ queryKey: ['flag', flag.key] });
    },
  });
  const submit = (e: FormEvent) => {
    e.preventDefault();
    if (errors.length === 0) save.mutate();
  };
  return (
    <section aria-labelledby={`${id}-h`} className="panel">
      <h2 id={`${id}-h`}>Config values</h2>
      <p className="muted small">Each variant's value, checked against the flag's JSON Schema before it is saved.</p>
      <form onSubmit={submit} noValidate>
        {Object.entries(draft).map(([name, value]) => (
          <SchemaField
            key={name}
            schema={schema}
            value={value}
            label={name}
            path={`/variants/${name}`}
            errors={errors}
            onChange={(v) => {
              setDraft((d) => ({ ...d, [name]: v }));
              setDirty(true);
            }}
          />
        ))}
        <p className="muted small" aria-live="polite">
          {errors.length > 0 ? `${errors.length} problem${errors.length === 1 ? '' : 's'} to fix before saving` : ''}
        </p>
        <ErrorMessage error={save.error} />
        <div className="actions">
          <button type="submit" disabled={!dirty || errors.length > 0 || save.isPending}>
            Save values
          </button>
          {dirty && (
            <button
              type="button"
              className="secondary"
              onClick={() => {
                setDraft(JSON.parse(shown) as Record<string, unknown>);
                setDirty(false);
                save.reset();
              }}
            >
              Discard
            </button>
          )}
        </div>
      </form>
    </section>
  );
}

/** Whether the flag gets the generated form: a number or object flag whose schema the form understands. */
export function isKnob(flag: Flag): boolean {
  return (flag.type === 'number' || flag.type === 'object') && !!flag.schema && formable(flag.schema as FieldSchema);
}
