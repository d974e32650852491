// Admin: list, create, edit (role, active, sites, password) and delete users. The API's limits
// (always one active admin; nobody deactivates or deletes themself) are explained on the page and
// on the rows they apply to; 409/422 errors appear beside the field concerned.
import { api, type Role, type SessionData } from '../session.js';
import { h } from '../dom.js';
import { t, tr } from '../i18n.js';
import { errorMessage } from '../errors.js';
import { checkboxes, field, FormErrors, formError } from './forms.js';
import type { View } from './view.js';

interface User {
  id: number;
  username: string;
  role: Role;
  is_active: boolean;
  sites: string[];
}

const ROLES: Role[] = ['admin', 'model_manager', 'user', 'guest'];

function roleSelect(value: Role): HTMLSelectElement {
  return h('select', { name: 'role' }, ...ROLES.map((r) => h('option', { value: r, selected: r === value }, t(`role.${r}`))));
}

export function adminUsersView(me: SessionData): View {
  const notice = h('p', { class: 'notice', attrs: { role: 'status' }, hidden: true });
  const listError = formError();
  const list = h('div', { class: 'user-list' });
  const createBox = h('div', { class: 'card' });
  const el = h(
    'section',
    { class: 'admin-view' },
    h('h1', null, tr('admin.users.title')),
    h('p', { class: 'rule' }, tr('admin.users.rule')),
    h('p', { class: 'hint' }, tr('role.help')),
    notice,
    createBox,
    listError,
    list,
  );
  let sites: string[] = [];
  let users: User[] = [];
  let stopped = false;

  const say = (text: string) => {
    notice.textContent = text;
    notice.hidden = !text;
  };

  const reload = async () => {
    try {
      const [u, s] = await Promise.all([api<{ users: User[] }>('GET', '/users'), api<{ sites: Array<{ name: string }> }>('GET', '/sites')]);
      if (stopped) return;
      users = u.users.sort((a, b) => a.username.localeCompare(b.username));
      sites = s.sites.map((x) => x.name).sort((a, b) => a.localeCompare(b));
      listError.hidden = true;
      renderCreate();
      renderList();
    } catch (err) {
      listError.textContent = errorMessage(err);
      listError.hidden = false;
    }
  };

  function renderCreate(): void {
    const username = h('input', { name: 'username', autocomplete: 'off', required: true });
    const password = h('input', { name: 'password', type: 'password', autocomplete: 'new-password', required: true });
    const role = roleSelect('user');
    const siteBoxes = checkboxes('sites', sites, []);
    const fields = {
      username: field('username', tr('admin.users.username'), username, tr('field.username.rule')),
      password: field('password', tr('admin.users.password'), password, tr('field.password.rule')),
      role: field('role', tr('admin.users.role'), role),
      sites: field('sites', tr('admin.users.sites'), siteBoxes.el),
    };
    const fe = formError();
    const errors = new FormErrors(fields, fe);
    const form = h(
      'form',
      {
        class: 'create-user',
        on: {
          submit: (e: Event) => {
            e.preventDefault();
            errors.clear();
            api<User>('POST', '/users', { username: username.value, password: password.value, role: role.value, sites: siteBoxes.values() }).then(
              (u) => {
                say(t('admin.users.created', { user: u.username }));
                void reload();
              },
              (err: unknown) => errors.show(err),
            );
          },
        },
      },
      h('h2', null, tr('admin.users.create')),
      fields.username.el,
      fields.password.el,
      fields.role.el,
      fields.sites.el,
      fe,
      h('button', { type: 'submit' }, tr('admin.users.create')),
    );
    createBox.replaceChildren(form);
  }

  function renderList(): void {
    const activeAdmins = users.filter((u) => u.role === 'admin' && u.is_active);
    list.replaceChildren(...users.map((u) => row(u, activeAdmins.length === 1 && activeAdmins[0]!.id === u.id)));
  }

  function row(u: User, lastAdmin: boolean): HTMLElement {
    const self = u.id === me.user_id;
    const summary = h(
      'div',
      { class: 'user-summary' },
      h('strong', { class: 'user-name' }, u.username),
      h('span', { class: 'badge' }, t(`role.${u.role}`)),
      h('span', { class: u.is_active ? 'badge live' : 'badge offline' }, t(u.is_active ? 'admin.users.active' : 'admin.users.inactive')),
      h('span', { class: 'user-sites' }, u.role === 'admin' ? t('admin.users.all_sites') : u.sites.length ? u.sites.join(', ') : t('admin.users.no_sites')),
    );
    const notes = h('div', { class: 'row-notes' }, lastAdmin ? h('small', { class: 'hint' }, t('admin.users.last_admin')) : null, self ? h('small', { class: 'hint' }, t('admin.users.self')) : null);
    const actions = h('div', { class: 'row-actions' });
    const box = h('div', { class: 'user-row card', dataset: { user: u.username } }, summary, notes, actions);

    const edit = h('button', { type: 'button', on: { click: () => openEditor() } }, t('admin.users.edit'));
    const del = h('button', { type: 'button', class: 'danger', disabled: lastAdmin || self, on: { click: () => confirmDelete() } }, t('admin.users.delete'));
    actions.replaceChildren(edit, del);

    function confirmDelete(): void {
      const fe = formError();
      const yes = h(
        'button',
        {
          type: 'button',
          class: 'danger',
          on: {
            click: () =>
              api('DELETE', `/users/${u.id}`).then(
                () => {
                  say(t('admin.users.deleted', { user: u.username }));
                  void reload();
                },
                (err: unknown) => {
                  fe.textContent = errorMessage(err);
                  fe.hidden = false;
                },
              ),
          },
        },
        t('admin.users.confirm'),
      );
      const no = h('button', { type: 'button', on: { click: () => actions.replaceChildren(edit, del) } }, t('admin.users.cancel'));
      actions.replaceChildren(h('span', null, t('admin.users.confirm_delete', { user: u.username })), yes, no, fe);
    }

    function openEditor(): void {
      const role = roleSelect(u.role);
      role.disabled = lastAdmin;
      const active = h('input', { type: 'checkbox', name: 'is_active', checked: u.is_active, disabled: lastAdmin || self });
      const siteBoxes = checkboxes('sites', [...new Set([...sites, ...u.sites])].sort(), u.sites);
      const password = h('input', { name: 'password', type: 'password', autocomplete: 'new-password' });
      const fields = {
        role: field('role', tr('admin.users.role'), role),
        is_active: field('is_active', tr('admin.users.active'), active),
        sites: field('sites', tr('admin.users.sites'), siteBoxes.el),
        password: field('password', tr('admin.users.new_password'), password, tr('field.password.rule')),
      };
      const fe = formError();
      const errors = new FormErrors(fields, fe);
      const form = h(
        'form',
        {
          class: 'edit-user',
          on: {
            submit: (e: Event) => {
              e.preventDefault();
              errors.clear();
              const patch: Record<string, unknown> = {};
              if (role.value !== u.role) patch.role = role.value;
              if (active.checked !== u.is_active) patch.is_active = active.checked;
              const s = siteBoxes.values();
              if (s.join('\n') !== [...u.sites].sort().join('\n')) patch.sites = s;
              if (password.value) patch.password = password.value;
              if (Object.keys(patch).length === 0) return void reload();
              api<User>('PATCH', `/users/${u.id}`, patch).then(
                (v) => {
                  say(t('admin.users.saved', { user: v.username }));
                  void reload();
                },
                (err: unknown) => errors.show(err),
              );
            },
          },
        },
        fields.role.el,
        fields.is_active.el,
        fields.sites.el,
        fields.password.el,
        fe,
        h('div', { class: 'row-actions' }, h('button', { type: 'submit' }, t('admin.users.save')), h('button', { type: 'button', on: { click: () => renderList() } }, t('admin.users.cancel'))),
      );
      actions.replaceChildren(form);
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
