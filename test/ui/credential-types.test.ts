/**
 * The console's per-type forms name the fields the core validates (the UI cannot import the
 * core's schemas, which need Node): this is what keeps the two from drifting apart.
 */
import { describe, expect, it } from 'vitest';
import { CREDENTIAL_TYPES } from '../../src/core/types.js';
import { valueShape } from '../../src/core/value-shapes.js';
import { FORM_FIELDS } from '../../ui/src/components/credential-types.js';

describe("the console's credential forms", () => {
  it.each(CREDENTIAL_TYPES)(
    'ask for exactly the fields the core takes for %s, required as it requires them',
    (type) => {
      const shape = valueShape(type);
      const form = FORM_FIELDS[type];
      if (shape.kind !== 'object') {
        expect(form.map((f) => f.name)).toEqual(['value']);
        return;
      }
      const fields = (list: readonly { name: string; required: boolean }[]) =>
        Object.fromEntries(list.map((f) => [f.name, f.required]));
      expect(fields(form)).toEqual(fields(shape.fields));
    },
  );
});
