import { PageHeader } from '../components/ui.js';
import { Link } from '../router.js';

/** A console path that names nothing, or something this token may not see (the API says the same). */
export function NotFoundView({ what = 'page' }: { what?: string }) {
  return (
    <section>
      <PageHeader title="Not found" />
      <p>
        No such {what}, or it is not visible to this token. <Link href="/">Back to the start</Link>
      </p>
    </section>
  );
}
