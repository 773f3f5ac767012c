// The job list: every job, newest first, refreshed every two seconds; filtered by text and state.
'use strict';
(function () {
  const body = document.querySelector('#jobs tbody');
  const filter = document.getElementById('filter');
  const stateFilter = document.getElementById('state');
  const status = document.getElementById('status');
  let jobs = [];

  async function load() {
    const all = [];
    let after = null;
    // Pages come oldest first; a server with very many jobs shows its newest 20 pages' worth at most.
    for (let page = 0; page < 20; page++) {
      const answer = await tc.api('/v1/jobs' + (after ? '?after=' + encodeURIComponent(after) : ''));
      const list = await answer.json();
      all.push(...list.jobs);
      if (!list.next) break;
      after = list.next;
    }
    all.sort(function (a, b) { return b.meta.started_at_ms - a.meta.started_at_ms || (a.id < b.id ? -1 : 1); });
    return all;
  }

  function cell(row, text, className) {
    const td = document.createElement('td');
    if (className) td.className = className;
    if (text instanceof Node) td.append(text); else td.textContent = text;
    row.append(td);
  }

  function render() {
    const text = filter.value.trim().toLowerCase();
    const state = stateFilter.value;
    const now = Date.now();
    const shown = jobs.filter(function (job) {
      if (state && job.state !== state) return false;
      if (!text) return true;
      return [job.id, job.meta.host, job.meta.command.join(' ')].join('\n').toLowerCase().includes(text);
    });
    const rows = shown.map(function (job) {
      const row = document.createElement('tr');
      row.className = 'job state-' + job.state;
      const link = document.createElement('a');
      link.href = '/jobs/' + encodeURIComponent(job.id);
      link.textContent = job.id;
      cell(row, link, 'id');
      cell(row, job.meta.host, 'host');
      cell(row, job.meta.command.join(' '), 'command');
      cell(row, job.exit ? job.state + ' (' + tc.exitText(job.exit) + ')' : job.state, 'state');
      cell(row, tc.time(job.meta.started_at_ms), 'started');
      cell(row, tc.duration(((job.ended_at_ms || (job.state === 'running' ? now : job.last_seen_ms)) - job.meta.started_at_ms) / 1000), 'duration');
      cell(row, tc.bytes(job.streams.reduce(function (sum, s) { return sum + s.size; }, 0)), 'bytes');
      const bars = document.createElement('div');
      (job.progress || []).forEach(function (state) { bars.append(tc.bar(state)); });
      cell(row, bars, 'progress');
      return row;
    });
    body.replaceChildren(...rows);
    status.textContent = shown.length + ' of ' + jobs.length + ' jobs';
  }

  async function refresh() {
    try {
      jobs = await load();
      render();
    } catch (error) {
      status.textContent = String(error.message || error);
    }
    setTimeout(refresh, 2000);
  }

  filter.addEventListener('input', render);
  stateFilter.addEventListener('change', render);
  refresh();
})();
