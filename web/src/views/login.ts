// The login page: plain messages for a wrong password, rate limiting (with a countdown), a
// deactivated account and an unreachable or unavailable service.
import { ApiError } from '../api.js';
import { h } from '../dom.js';
import { t, tr } from '../i18n.js';
import { session } from '../session.js';
import type { View } from './view.js';

export function loginView(notice: string | null, onDone: () => void): View {
  const username = h('input', { name: 'username', autocomplete: 'username', required: true, autofocus: true });
  const password = h('input', { name: 'password', type: 'password', autocomplete: 'current-password', required: true });
  const message = h('p', { class: 'form-error', attrs: { role: 'alert' } });
  const submit = h('button', { type: 'submit' }, tr('login.submit'));
  let countdown: number | null = null;

  const say = (text: string) => {
    message.textContent = text;
    message.hidden = text === '';
  };
  say('');

  const waitOut = (seconds: number) => {
    let left = Math.ceil(seconds);
    submit.disabled = true;
    const show = () => say(t('login.error.rate_limited', { seconds: left }));
    show();
    countdown = window.setInterval(() => {
      left--;
      if (left <= 0) {
        clearInterval(countdown!);
        countdown = null;
        submit.disabled = false;
        say('');
      } else show();
    }, 1000);
  };

  const form = h(
    'form',
    {
      class: 'login card',
      on: {
        submit: (e: Event) => {
          e.preventDefault();
          if (!username.value || !password.value) return say(t('login.error.missing'));
          submit.disabled = true;
          submit.textContent = t('login.busy');
          session
            .login(username.value, password.value)
            .then(onDone, (err: unknown) => {
              submit.disabled = false;
              submit.textContent = t('login.submit');
              const e2 = err instanceof ApiError ? err : new ApiError(0, 'UNREACHABLE', String(err));
              if (e2.status === 429) return waitOut(e2.retryAfter ?? 60);
              if (e2.unreachable) say(t('login.error.unreachable'));
              else if (e2.code === 'BAD_CREDENTIALS' || e2.status === 401) say(t('login.error.bad_credentials'));
              else if (e2.code === 'ACCOUNT_DISABLED') say(t('login.error.disabled'));
              else if (e2.status >= 500) say(t('login.error.unavailable'));
              else say(t('login.error.other', { code: e2.code }));
              password.select();
            });
        },
      },
    },
    h('h1', null, tr('login.title')),
    notice ? h('p', { class: 'notice', attrs: { role: 'status' } }, notice) : null,
    h('label', null, h('span', null, tr('login.username')), username),
    h('label', null, h('span', null, tr('login.password')), password),
    message,
    submit,
  );
  const el = h('section', { class: 'login-view' }, form);
  return {
    el,
    destroy() {
      if (countdown !== null) clearInterval(countdown);
      el.remove();
    },
  };
}
