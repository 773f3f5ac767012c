// Shared by the list and the job page: the API (with the watch-token login) and formatting.
'use strict';
const tc = (function () {
  let loggedIn = null;

  // The token form, under the page's header: built here, once, for every page.
  function loginForm() {
    const form = document.createElement('form');
    form.id = 'login';
    form.className = 'login';
    const label = document.createElement('label');
    const input = document.createElement('input');
    Object.assign(input, { id: 'token', type: 'password', autocomplete: 'off', required: true });
    label.append('This server needs a watch token: ', input);
    const button = document.createElement('button');
    button.type = 'submit';
    button.textContent = 'Watch';
    const error = document.createElement('span');
    error.className = 'error';
    form.append(label, ' ', button, ' ', error);
    document.querySelector('header').after(form);
    return { form: form, input: input, error: error };
  }

  // Shows the token form and resolves once the server has taken the token (as an HttpOnly cookie).
  function login() {
    if (loggedIn) return loggedIn;
    loggedIn = new Promise(function (resolve) {
      const { form, input, error } = loginForm();
      input.focus();
      form.onsubmit = async function (event) {
        event.preventDefault();
        const answer = await fetch('/v1/session', { method: 'POST', body: input.value, credentials: 'same-origin' });
        if (answer.ok) {
          form.remove();
          loggedIn = null;
          resolve();
        } else {
          error.textContent = (await answer.text()).trim();
        }
      };
    });
    return loggedIn;
  }

  async function api(path, options) {
    for (;;) {
      const answer = await fetch(path, Object.assign({ credentials: 'same-origin' }, options || {}));
      if (answer.status === 401) {
        await login();
        continue;
      }
      if (!answer.ok && answer.status !== 206) throw new Error(path + ': ' + answer.status + ' ' + (await answer.text()).trim());
      return answer;
    }
  }

  function bytes(n) {
    const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
    let unit = 0;
    while (n >= 1024 && unit < units.length - 1) { n /= 1024; unit++; }
    return (unit === 0 ? n : n.toFixed(1)) + ' ' + units[unit];
  }

  function duration(seconds) {
    seconds = Math.max(0, Math.round(seconds));
    const h = Math.floor(seconds / 3600), m = Math.floor(seconds / 60) % 60, s = seconds % 60;
    return h > 0 ? h + 'h' + String(m).padStart(2, '0') + 'm' : m > 0 ? m + 'm' + String(s).padStart(2, '0') + 's' : s + 's';
  }

  function time(ms) {
    return new Date(ms).toLocaleString();
  }

  function amount(value, unit) {
    if (unit === 'B') return bytes(value);
    const text = Number.isInteger(value) ? String(value) : value.toFixed(2);
    return unit === '%' ? text + '%' : text + ' ' + unit;
  }

  // One progress bar (ProgressState of PROTOCOL.md) as a real bar with its numbers.
  function bar(state) {
    const row = document.createElement('div');
    row.className = 'bar' + (state.done ? ' done' : '');
    const label = document.createElement('span');
    label.className = 'bar-label';
    label.textContent = state.label || state.key;
    const meter = document.createElement('progress');
    if (state.total) { meter.max = state.total; meter.value = Math.min(state.current, state.total); }
    else if (state.unit === '%') { meter.max = 100; meter.value = state.current; }
    const numbers = document.createElement('span');
    numbers.className = 'bar-numbers';
    const parts = [];
    parts.push(state.total ? amount(state.current, state.unit) + ' / ' + amount(state.total, state.unit) : amount(state.current, state.unit));
    if (state.percent !== undefined && state.percent !== null) parts.push(state.percent.toFixed(1) + '%');
    if (state.rate) parts.push(amount(state.rate, state.unit) + '/s');
    if (state.eta_seconds !== undefined && state.eta_seconds !== null && !state.done) parts.push('ETA ' + duration(state.eta_seconds));
    if (state.message) parts.push(state.message);
    numbers.textContent = parts.join(' · ');
    row.append(label, meter, numbers);
    return row;
  }

  function exitText(exit) {
    if (!exit) return '';
    return exit.signal !== undefined ? 'killed by signal ' + exit.signal : 'exit ' + exit.code;
  }

  return { api: api, bytes: bytes, duration: duration, time: time, bar: bar, exitText: exitText };
})();
