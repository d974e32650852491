// Admin: create, rename and delete sites; a duplicate or invalid name is shown beside the field.
import { api } from '../session.js';
import { h } from '../dom.js';
import { t, tr } from '../i18n.js';
import { errorMessage } from '../errors.js';
import { field, FormErrors, formError } from './forms.js';
import type { View } from './view.js';

interface Site {
  id: number;
  name: string;
}

export function adminSitesView(): View {
  const notice = h('p', { class: 'notice', attrs: { role: 'status' }, hidden: true });
  const listError = formError();
  const list = h('div', { class: 'site-admin-list' });
  const name = h('input', { name: 'name', autocomplete: 'off', required: true });
  const fields = { name: field('name', tr('admin.sites.name'), name, tr('field.site.rule')) };
  const fe = formError();
  const errors = new FormErrors(fields, fe);
  const say = (text: string) => {
    notice.textContent = text;
    notice.hidden = !text;
  };
  const create = h(
    'form',
    {
      class: 'create-site card',
      on: {
        submit: (e: Event) => {
          e.preventDefault();
          errors.clear();
          api<Site>('POST', '/sites', { name: name.value }).then(
            (s) => {
              say(t('admin.sites.created', { site: s.name }));
              name.value = '';
              void reload();
            },
            (err: unknown) => errors.show(err),
          );
        },
      },
    },
    h('h2', null, tr('admin.sites.create')),
    fields.name.el,
    fe,
    h('button', { type: 'submit' }, tr('admin.sites.create')),
  );
  const el = h('section', { class: 'admin-view' }, h('h1', null, tr('admin.sites.title')), h('p', { class: 'rule' }, tr('admin.sites.note')), notice, create, listError, list);
  let stopped = false;

  async function reload(): Promise<void> {
    try {
      const r = await api<{ sites: Site[] }>('GET', '/sites');
      if (stopped) return;
      listError.hidden = true;
      const sites = r.sites.sort((a, b) => a.name.localeCompare(b.name));
      list.replaceChildren(...(sites.length ? sites.map(row) : [h('p', { class: 'hint' }, t('admin.sites.none'))]));
    } catch (err) {
      listError.textContent = errorMessage(err);
      listError.hidden = false;
    }
  }

  function row(s: Site): HTMLElement {
    const actions = h('div', { class: 'row-actions' });
    const box = h('div', { class: 'site-row card', dataset: { site: s.name } }, h('strong', null, s.name), actions);
    const rename = h('button', { type: 'button', on: { click: () => openRename() } }, t('admin.sites.rename'));
    const del = h('button', { type: 'button', class: 'danger', on: { click: () => confirmDelete() } }, t('admin.sites.delete'));
    const idle = () => actions.replaceChildren(rename, del);
    idle();

    function openRename(): void {
      const input = h('input', { name: 'name', value: s.name, required: true });
      const f = { name: field('name', tr('admin.sites.name'), input, tr('field.site.rule')) };
      const e2 = formError();
      const errs = new FormErrors(f, e2);
      actions.replaceChildren(
        h(
          'form',
          {
            class: 'rename-site',
            on: {
              submit: (e: Event) => {
                e.preventDefault();
                errs.clear();
                api<Site>('PATCH', `/sites/${s.id}`, { name: input.value }).then(
                  (v) => {
                    say(t('admin.sites.renamed', { site: v.name }));
                    void reload();
                  },
                  (err: unknown) => errs.show(err),
                );
              },
            },
          },
          f.name.el,
          e2,
          h('button', { type: 'submit' }, t('admin.sites.save')),
          h('button', { type: 'button', on: { click: idle } }, t('admin.sites.cancel')),
        ),
      );
    }

    function confirmDelete(): void {
      const e2 = formError();
      actions.replaceChildren(
        h('span', null, t('admin.sites.confirm_delete', { site: s.name })),
        h(
          'button',
          {
            type: 'button',
            class: 'danger',
            on: {
              click: () =>
                api('DELETE', `/sites/${s.id}`).then(
                  () => {
                    say(t('admin.sites.deleted', { site: s.name }));
                    void reload();
                  },
                  (err: unknown) => {
                    e2.textContent = errorMessage(err);
                    e2.hidden = false;
                  },
                ),
            },
          },
          t('admin.sites.confirm'),
        ),
        h('button', { type: 'button', on: { click: idle } }, t('admin.sites.cancel')),
        e2,
      );
    }
    return box;
  }

  void reload();
  return {
    el,
    destroy() {
      stopped = true;
      el.remove();
    },
  };
}
