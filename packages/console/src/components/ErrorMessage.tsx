import { ApiError } from '../api/client.js';

/** An API error as the API says it: message, code, and each problem at its JSON path. */
export function ErrorMessage({ error, id }: { error: unknown; id?: string }) {
  if (!error) return null;
  if (!(error instanceof ApiError)) {
    return (
      <div role="alert" className="error" id={id}>
        {error instanceof Error ? error.message : String(error)}
      </div>
    );
  }
  return (
    <div role="alert" className="error" id={id}>
      <p>
        {error.message} <code>{error.code}</code>
      </p>
      {error.details.length > 0 && (
        <ul>
          {error.details.map((d) => (
            <li key={`${d.path}-${d.code}-${d.message}`}>
              <code>{d.path || '/'}</code>: {d.message} <code>{d.code}</code>
            </li>
          ))}
        </ul>
      )}
    </div>
  );
}
