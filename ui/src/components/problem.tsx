import { isApiError } from '../../../src/client/index.js';

/** The problem title and detail of a failed call, as the server wrote them (never a value). */
export function describeError(error: unknown): { title: string; detail: string; code?: string } {
  if (isApiError(error)) {
    const title = typeof error.problem?.title === 'string' ? error.problem.title : error.code;
    const issues = (error.issues ?? []).map((i) => `${i.path} ${i.problem}`).join('; ');
    return {
      title,
      detail: issues && !error.detail.includes(issues) ? `${error.detail} (${issues})` : error.detail,
      code: error.code,
    };
  }
  return { title: 'Something went wrong', detail: error instanceof Error ? error.message : String(error) };
}

/** An API error, shown as its problem `title` and `detail`; nothing when there is none. */
export function Problem({ error }: { error: unknown }) {
  if (error === undefined || error === null) return null;
  const { title, detail, code } = describeError(error);
  return (
    <div class="problem" role="alert" data-code={code}>
      <strong>{title}</strong>
      <span>{detail}</span>
    </div>
  );
}

/** Whether a failed load means "this does not exist (for you)". */
export const isNotFound = (error: unknown) => isApiError(error, 'NOT_FOUND');
