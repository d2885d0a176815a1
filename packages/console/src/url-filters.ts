import { useSearchParams } from 'react-router';

/**
 * A page's filters kept in the URL, so a filtered view can be shared and survives a reload: `params` to read them,
 * `set(name, value)` to change one (an empty value removes it). It replaces the history entry, so typing in a filter
 * does not fill the back button.
 */
export function useUrlFilters(): { params: URLSearchParams; set: (name: string, value: string) => void } {
  const [params, setParams] = useSearchParams();
  const set = (name: string, value: string) =>
    setParams(
      (p) => {
        const next = new URLSearchParams(p);
        if (value) next.set(name, value);
        else next.delete(name);
        return next;
      },
      { replace: true },
    );
  return { params, set };
}
