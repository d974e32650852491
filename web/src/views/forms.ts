// Form pieces shared by the admin pages: a labelled field with its own error line, and showing an
// API error beside the field it concerns (or for the whole form).
import { h, type Child } from '../dom.js';
import { errorMessage, fieldError } from '../errors.js';

export interface Field {
  el: HTMLElement;
  error: HTMLElement;
}

export function field(name: string, label: Child, input: HTMLElement, hint?: Child): Field {
  const error = h('span', { class: 'field-error', dataset: { errorFor: name }, attrs: { role: 'alert' }, hidden: true });
  const el = h('label', { class: 'field', dataset: { field: name } }, h('span', { class: 'field-label' }, label), input, hint ? h('small', { class: 'hint' }, hint) : null, error);
  return { el, error };
}

export class FormErrors {
  constructor(private readonly fields: Record<string, Field>, private readonly form: HTMLElement) {}

  clear(): void {
    for (const f of Object.values(this.fields)) {
      f.error.hidden = true;
      f.error.textContent = '';
    }
    this.form.hidden = true;
    this.form.textContent = '';
  }

  show(err: unknown): void {
    this.clear();
    const fe = fieldError(err, Object.keys(this.fields));
    if (fe && this.fields[fe.field]) {
      const f = this.fields[fe.field]!;
      f.error.textContent = fe.message;
      f.error.hidden = false;
      return;
    }
    this.form.textContent = errorMessage(err);
    this.form.hidden = false;
  }
}

export function formError(): HTMLElement {
  return h('p', { class: 'form-error', attrs: { role: 'alert' }, hidden: true });
}

export function checkboxes(name: string, options: string[], checked: readonly string[]): { el: HTMLElement; values(): string[] } {
  const boxes = options.map((o) => h('input', { type: 'checkbox', value: o, checked: checked.includes(o), name }));
  const el = h('div', { class: 'checks' }, ...options.map((o, i) => h('label', { class: 'check' }, boxes[i]!, ` ${o}`)));
  return { el, values: () => boxes.filter((b) => b.checked).map((b) => b.value) };
}
