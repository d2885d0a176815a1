import type { Flag } from '../api/client.js';

export function TypeBadge({ type }: { type: Flag['type'] }) {
  return <span className={`badge badge-${type}`}>{type}</span>;
}
