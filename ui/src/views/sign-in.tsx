import { useState } from 'preact/hooks';
import { Problem } from '../components/problem.js';
import { Button, TextField } from '../components/ui.js';
import { useSessionState } from '../session.js';

/** Sign in with an API token (tenant or platform); it is checked with `GET /v1/whoami`. */
export function SignInView() {
  const { signIn } = useSessionState();
  const [token, setToken] = useState('');
  const [error, setError] = useState<unknown>(undefined);
  const [pending, setPending] = useState(false);
  return (
    <main id="main" class="sign-in">
      <h1>credential-registry</h1>
      <form
        onSubmit={async (e) => {
          e.preventDefault();
          setPending(true);
          setError(undefined);
          try {
            await signIn(token.trim());
            setToken('');
          } catch (err) {
            setError(err);
          } finally {
            setPending(false);
          }
        }}
      >
        <TextField
          label="API token"
          type="password"
          value={token}
          onValue={setToken}
          autoComplete="off"
          spellcheck={false}
          required
          hint="A tenant token (crt.…) or a platform token (crp.…). It is kept in this tab only, until you sign out or close it."
        />
        <Problem error={error} />
        <Button kind="primary" type="submit" pending={pending}>
          Sign in
        </Button>
      </form>
    </main>
  );
}
