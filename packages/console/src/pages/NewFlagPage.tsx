import { useMutation, useQueryClient } from '@tanstack/react-query';
import { type FormEvent, useState } from 'react';
import { Link, useNavigate } from 'react-router';
import { api, type Flag, unwrap } from '../api/client.js';
import { ErrorMessage } from '../components/ErrorMessage.js';
import { useEnvironments } from '../queries.js';

const EXAMPLE_VARIANTS: Record<Flag['type'], string> = {
  boolean: '{\n  "on": true,\n  "off": false\n}',
  string: '{\n  "control": "classic",\n  "treatment": "new"\n}',
  number: '{\n  "low": 500,\n  "high": 2000\n}',
  object: '{\n  "default": { "retries": 2 }\n}',
};

/** Creates a flag from a form: disabled in every environment, so nothing changes until someone turns it on. */
export function NewFlagPage() {
  const navigate = useNavigate();
  const queryClient = useQueryClient();
  const environments = useEnvironments();
  const [key, setKey] = useState('');
  const [type, setType] = useState<Flag['type']>('boolean');
  const [description, setDescription] = useState('');
  const [variants, setVariants] = useState(EXAMPLE_VARIANTS.boolean);
  const [defaultVariant, setDefaultVariant] = useState('off');
  const [localError, setLocalError] = useState<string | null>(null);
  const create = useMutation({
    mutationFn: async (flag: Flag) => (await unwrap(api.POST('/api/admin/flags', { body: flag }))).data,
    onSuccess: async (flag) => {
      await queryClient.invalidateQueries({ queryKey: ['flags'] });
      navigate(`/flags/${encodeURIComponent(flag.key)}`);
    },
  });

  const submit = (e: FormEvent) => {
    e.preventDefault();
    setLocalError(null);
    let parsed: unknown;
    try {
      parsed = JSON.parse(variants);
    } catch (err) {
      setLocalError(`Variants are not JSON: ${err instanceof Error ? err.message : String(err)}`);
      return;
    }
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
      setLocalError('Variants are a JSON object: variant name → value.');
      return;
    }
    const envs = Object.fromEntries((environments.data ?? []).map((env) => [env, { state: 'DISABLED' as const }]));
    create.mutate({
      key: key.trim(),
      type,
      ...(description.trim() ? { description: description.trim() } : {}),
      variants: parsed as Record<string, unknown>,
      defaultVariant: defaultVariant.trim(),
      environments: envs,
    });
  };

  return (
    <section>
      <p>
        <Link to="/flags">← All flags</Link>
      </p>
      <h1>New flag</h1>
      <form className="stack" onSubmit={submit}>
        <label htmlFor="new-key">Key</label>
        <input
          id="new-key"
          value={key}
          maxLength={200}
          required
          placeholder="new-checkout"
          onChange={(e) => setKey(e.target.value)}
        />
        <label htmlFor="new-type">Type</label>
        <select
          id="new-type"
          value={type}
          onChange={(e) => {
            const t = e.target.value as Flag['type'];
            setType(t);
            setVariants(EXAMPLE_VARIANTS[t]);
            setDefaultVariant(Object.keys(JSON.parse(EXAMPLE_VARIANTS[t]) as object).at(-1) ?? '');
          }}
        >
          <option value="boolean">boolean</option>
          <option value="string">string</option>
          <option value="number">number</option>
          <option value="object">object</option>
        </select>
        <label htmlFor="new-description">Description</label>
        <input
          id="new-description"
          value={description}
          maxLength={500}
          onChange={(e) => setDescription(e.target.value)}
        />
        <label htmlFor="new-variants">Variants (JSON: name → value)</label>
        <textarea
          id="new-variants"
          className="code"
          rows={6}
          spellCheck={false}
          value={variants}
          onChange={(e) => setVariants(e.target.value)}
        />
        <label htmlFor="new-default">Default variant</label>
        <input
          id="new-default"
          value={defaultVariant}
          maxLength={200}
          onChange={(e) => setDefaultVariant(e.target.value)}
        />
        <p className="hint">The flag starts disabled in every environment (the code default applies).</p>
        {localError && (
          <p role="alert" className="error">
            {localError}
          </p>
        )}
        <ErrorMessage error={create.error} />
        <div className="actions">
          <button type="submit" disabled={create.isPending || !key.trim()}>
            Create flag
          </button>
        </div>
      </form>
    </section>
  );
}
