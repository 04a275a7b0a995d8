import { type Inputs, useCallback, useEffect, useRef, useState } from 'preact/hooks';

export interface Async<T> {
  data: T | undefined;
  error: unknown;
  loading: boolean;
  /** Loads again (after a change), keeping the shown data until the new answer arrives. */
  reload(): void;
}

/** Runs `load` now and whenever `inputs` change; an answer that arrives after a newer load started is dropped. */
export function useAsync<T>(load: () => Promise<T>, inputs: Inputs): Async<T> {
  const [state, setState] = useState<{ data: T | undefined; error: unknown; loading: boolean }>({
    data: undefined,
    error: undefined,
    loading: true,
  });
  const generation = useRef(0);
  const run = useCallback(() => {
    const mine = ++generation.current;
    setState((s) => ({ ...s, loading: true }));
    load().then(
      (data) => mine === generation.current && setState({ data, error: undefined, loading: false }),
      (error) => mine === generation.current && setState({ data: undefined, error, loading: false }),
    );
  }, inputs);
  useEffect(() => {
    run();
    return () => {
      generation.current++;
    };
  }, [run]);
  return { ...state, reload: run };
}

/**
 * An action started by a button: `pending` while it runs (the button disables itself), its error
 * kept to show. The action's own answer is the caller's to use.
 */
export function useAction<A extends unknown[], T>(
  action: (...args: A) => Promise<T>,
): { run(...args: A): Promise<T | undefined>; pending: boolean; error: unknown; clear(): void } {
  const [pending, setPending] = useState(false);
  const [error, setError] = useState<unknown>(undefined);
  const run = async (...args: A) => {
    setPending(true);
    setError(undefined);
    try {
      return await action(...args);
    } catch (err) {
      setError(err);
      return undefined;
    } finally {
      setPending(false);
    }
  };
  return { run, pending, error, clear: () => setError(undefined) };
}
