import * as Label from '@radix-ui/react-label';
import { type FormEvent, useEffect, useState } from 'react';
import { ApiError, api, session, unwrap } from '../api/client.js';

/** Sign in with an admin token: checked against the API, then kept in session storage for this tab. */
export function SignInPage({ expired, onSignedIn }: { expired: boolean; onSignedIn: () => void }) {
  const [token, setToken] = useState('');
  const [error, setError] = useState<string | null>(
    expired ? 'The server refused the token (revoked or wrong); sign in again.' : null,
  );
  const [busy, setBusy] = useState(false);
  // When the first page can be used (the browser test reads it against its budget).
  useEffect(() => {
    if (performance.getEntriesByName('rc:usable').length === 0) performance.mark('rc:usable');
  }, []);

  async function submit(e: FormEvent) {
    e.preventDefault();
    const value = token.trim();
    if (!value) {
      setError('Enter an admin token.');
      return;
    }
    setBusy(true);
    setError(null);
    try {
      const res = await unwrap(
        api.GET('/api/admin/environments', { headers: { authorization: `Bearer ${value}` } }),
      ).catch((err: unknown) => {
        if (err instanceof ApiError) throw err;
        throw new Error('The server cannot be reached.');
      });
      if (!res.data.environments) throw new Error('Unexpected answer from the server.');
      session.signIn(value);
      setToken('');
      onSignedIn();
    } catch (err) {
      if (err instanceof ApiError && err.status === 401) setError('That token is not a valid admin token.');
      else if (err instanceof ApiError && err.status === 403)
        setError('That is a client token; the console needs an admin token.');
      else setError(err instanceof Error ? err.message : String(err));
    } finally {
      setBusy(false);
    }
  }

  return (
    <main id="main" className="signin">
      <h1>Runtime Control</h1>
      <p>Flags, runtime config and tokens, live. Sign in with an admin token.</p>
      <form onSubmit={submit} noValidate>
        <Label.Root htmlFor="admin-token">Admin token</Label.Root>
        <input
          id="admin-token"
          name="token"
          type="password"
          autoComplete="off"
          spellCheck={false}
          value={token}
          onChange={(e) => setToken(e.target.value)}
          aria-invalid={error !== null}
          aria-describedby="admin-token-help signin-error"
        />
        <p id="admin-token-help" className="hint">
          <code>npm start</code> prints a development token; <code>RC_ADMIN_TOKEN</code> or{' '}
          <code>rctl tokens create --kind admin</code> give others. It is kept in this tab's session storage only.
        </p>
        <p id="signin-error" role="alert" className="error">
          {error}
        </p>
        <button type="submit" disabled={busy}>
          {busy ? 'Signing in…' : 'Sign in'}
        </button>
      </form>
    </main>
  );
}
