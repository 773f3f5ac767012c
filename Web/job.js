// A job's output: replayed from its start (or its last lines, for a big log), then live over the WebSocket
// watch protocol (PROTOCOL.md 3.2), resumed by offset after a dropped connection: no gap, no duplicate.
// Lines are kept as text and drawn only where the log is scrolled to.
'use strict';
(function () {
  const jobId = decodeURIComponent(location.pathname.replace(/^\/jobs\//, ''));
  // A job with more than this many bytes opens at its last TAIL_LINES lines; earlier ones load by Range.
  const BIG_BYTES = 4 << 20;
  const TAIL_LINES = 5000;
  const EARLIER_BYTES = 1 << 20;
  // Lines kept in the page; the oldest go first (the archive keeps them all: download).
  const MAX_LINES = 500000;
  const TRIM_LINES = 50000;
  const $ = function (id) { return document.getElementById(id); };
  const log = $('log'), spacer = $('spacer'), rows = $('rows');

  const streams = new Map();  // name → stream record
  const byId = new Map();     // id announced by the server → stream record
  let lines = [];             // {stream, text, html, time, open}
  let dropped = 0;            // lines dropped from the front (numbers stay stable)
  let view = null;            // indexes into `lines` when some stream is hidden
  let follow = true, ended = false, socket = null, retry = 0, startedAtEnd = false;
  let lineHeight = 18;
  const search = { query: '', at: -1 };

  // --- turning bytes into lines ---------------------------------------------------------------

  function newStream(name) {
    const ansi = new AnsiUp();
    ansi.use_classes = true;
    ansi.transform_to_html = classesOnly;
    const record = { name: name, index: streams.size, offset: 0, start: 0, decoder: new TextDecoder('utf-8'), ansi: ansi, pending: '', open: null, time: 0, hidden: false };
    streams.set(name, record);
    addStreamControls(record);
    return record;
  }

  // ansi_up writes bold and 256 colours as style attributes, which the page's Content-Security-Policy
  // refuses: classes only, and colours outside the 16 named ones as data set through the CSSOM.
  function classesOnly(fragment) {
    const text = this.escape_txt_for_html(fragment.text);
    if (!text) return text;
    const classes = [], data = [];
    if (fragment.bold) classes.push('ansi-bold');
    if (fragment.italic) classes.push('ansi-italic');
    if (fragment.underline) classes.push('ansi-underline');
    [['fg', fragment.fg], ['bg', fragment.bg]].forEach(function (pair) {
      if (!pair[1]) return;
      if (pair[1].class_name !== 'truecolor') classes.push(pair[1].class_name + '-' + pair[0]);
      else data.push(' data-' + pair[0] + '="' + pair[1].rgb.join(',') + '"');
    });
    if (!classes.length && !data.length) return text;
    return '<span class="' + classes.join(' ') + '"' + data.join('') + '>' + text + '</span>';
  }

  function ansiState(ansi) {
    return { fg: ansi.fg, bg: ansi.bg, bold: ansi.bold, italic: ansi.italic, underline: ansi.underline, buffer: ansi._buffer };
  }
  function restoreAnsi(ansi, s) {
    ansi.fg = s.fg; ansi.bg = s.bg; ansi.bold = s.bold; ansi.italic = s.italic; ansi.underline = s.underline; ansi._buffer = s.buffer;
  }

  const ESCAPES = /\x1b(\[[0-?]*[ -\/]*[@-~]|\][^\x07\x1b]*(\x07|\x1b\\)|[@-Z\\-_])/g;

  // A line as `tailcast watch` leaves it on a pipe: text after a carriage return overwrites from the
  // start of the line (escapes dropped, trailing spaces trimmed); other lines keep their colours.
  function render(record, body, line) {
    if (body.endsWith('\r')) body = body.slice(0, -1);
    if (body.includes('\r')) {
      const screen = [];
      let column = 0;
      for (const ch of body.replace(ESCAPES, '')) {
        if (ch === '\r') { column = 0; continue; }
        screen[column++] = ch;
      }
      line.text = screen.join('').replace(/ +$/, '');
      line.html = record.ansi.escape_txt_for_html(line.text);
    } else {
      line.text = body.replace(ESCAPES, '');
      line.html = record.ansi.ansi_to_html(body);
    }
  }

  function addBytes(record, bytes, time) {
    // `pending` holds the whole line being written, so each line is drawn from its full text.
    record.pending += record.decoder.decode(bytes, { stream: true });
    const parts = record.pending.split('\n');
    record.pending = parts.pop();
    for (const body of parts) {
      let line = record.open;
      if (line) { restoreAnsi(record.ansi, line.ansiAtStart); record.open = null; }
      else line = pushLine(record, time);
      line.open = false;
      render(record, body, line);
    }
    if (record.pending) {
      // The line being written (a progress bar redrawn with \r, say): shown now, drawn again as it grows.
      let line = record.open;
      if (!line) { line = pushLine(record, time); line.ansiAtStart = ansiState(record.ansi); record.open = line; }
      else restoreAnsi(record.ansi, line.ansiAtStart);
      render(record, record.pending, line);
    }
  }

  function pushLine(record, time) {
    const line = { stream: record, text: '', html: '', time: time, open: true };
    lines.push(line);
    if (view && !record.hidden) view.push(lines.length - 1);
    // Cut in slices, not a line at a time: each cut copies the array.
    if (lines.length > MAX_LINES + TRIM_LINES) {
      const cut = lines.length - MAX_LINES;
      lines = lines.slice(cut);
      dropped += cut;
      if (view) rebuildView();
    }
    return line;
  }

  // --- drawing only what is visible -------------------------------------------------------------

  let drawQueued = false;
  function draw() {
    if (drawQueued) return;
    drawQueued = true;
    requestAnimationFrame(function () {
      drawQueued = false;
      const count = view ? view.length : lines.length;
      spacer.style.height = (count * lineHeight) + 'px';
      if (follow) log.scrollTop = log.scrollHeight;
      const first = Math.max(0, Math.floor(log.scrollTop / lineHeight) - 20);
      const last = Math.min(count, Math.ceil((log.scrollTop + log.clientHeight) / lineHeight) + 20);
      rows.style.top = (first * lineHeight) + 'px';
      const elements = [];
      for (let position = first; position < last; position++) elements.push(lineElement(view ? view[position] : position));
      rows.replaceChildren(...elements);
    });
  }

  function lineElement(index) {
    const line = lines[index];
    const number = index + dropped + 1;
    const row = document.createElement('div');
    row.className = 'line stream-' + (line.stream.index % 8) + (number === search.hit ? ' hit' : '') + (location.hash === '#L' + number ? ' target' : '');
    row.title = line.stream.name;
    const anchor = document.createElement('a');
    anchor.className = 'ln';
    anchor.href = '#L' + number;
    anchor.id = 'L' + number;
    anchor.textContent = number;
    row.append(anchor);
    if (document.body.classList.contains('with-times')) {
      const stamp = document.createElement('span');
      stamp.className = 'ts';
      stamp.textContent = line.time ? new Date(line.time).toISOString().slice(11, 23) : '';
      row.append(stamp);
    }
    const text = document.createElement('span');
    text.className = 'tx';
    text.innerHTML = line.html;
    text.querySelectorAll('[data-fg]').forEach(function (e) { e.style.color = 'rgb(' + e.dataset.fg + ')'; });
    text.querySelectorAll('[data-bg]').forEach(function (e) { e.style.backgroundColor = 'rgb(' + e.dataset.bg + ')'; });
    row.append(text);
    return row;
  }

  function rebuildView() {
    const anyHidden = Array.from(streams.values()).some(function (s) { return s.hidden; });
    view = anyHidden ? [] : null;
    if (view) lines.forEach(function (line, index) { if (!line.stream.hidden) view.push(index); });
  }

  function scrollToPosition(position) {
    setFollow(false);
    log.scrollTop = Math.max(0, position * lineHeight - log.clientHeight / 2);
    draw();
  }

  function setFollow(on) {
    follow = on;
    $('follow').classList.toggle('on', on);
    if (on) draw();
  }

  log.addEventListener('scroll', function () {
    // Scrolling up stops following; reaching the end again does not restart it (the button does).
    if (follow && log.scrollTop + log.clientHeight < log.scrollHeight - 2 * lineHeight) setFollow(false);
    draw();
  });
  window.addEventListener('resize', draw);
  $('follow').addEventListener('click', function () { setFollow(!follow); });
  $('timestamps').addEventListener('change', function (event) { document.body.classList.toggle('with-times', event.target.checked); draw(); });

  function addStreamControls(record) {
    const label = document.createElement('label');
    label.className = 'stream-toggle stream-' + (record.index % 8);
    const box = document.createElement('input');
    box.type = 'checkbox';
    box.checked = true;
    box.addEventListener('change', function () { record.hidden = !box.checked; rebuildView(); draw(); });
    label.append(box, ' ' + record.name);
    $('stream-filters').append(label);
    const base = '/v1/jobs/' + encodeURIComponent(jobId) + '/raw?stream=' + encodeURIComponent(record.name);
    const links = document.createElement('span');
    links.className = 'download';
    links.append(record.name + ': ');
    [['text', 'text'], ['gzip', 'gz']].forEach(function (kind, i) {
      const link = document.createElement('a');
      link.href = base + '&download=' + kind[0];
      link.textContent = kind[1];
      if (i) links.append(' ');
      links.append(link);
    });
    $('downloads').append(links);
  }

  // --- search -------------------------------------------------------------------------------------

  function find(step) {
    const query = $('search').value.toLowerCase();
    if (!query) return;
    const count = view ? view.length : lines.length;
    let position = search.at;
    for (let tried = 0; tried < count; tried++) {
      position = (position + step + count) % count;
      const index = view ? view[position] : position;
      if (lines[index].text.toLowerCase().includes(query)) {
        search.at = position;
        search.hit = index + dropped + 1;
        $('search-count').textContent = 'line ' + search.hit;
        return scrollToPosition(position);
      }
    }
    $('search-count').textContent = 'no match';
  }
  $('search-next').addEventListener('click', function () { find(1); });
  $('search-prev').addEventListener('click', function () { find(-1); });
  $('search').addEventListener('keydown', function (event) { if (event.key === 'Enter') find(event.shiftKey ? -1 : 1); });

  function goToHash() {
    const match = /^#L(\d+)$/.exec(location.hash);
    if (!match) return false;
    const index = Number(match[1]) - 1 - dropped;
    if (index < 0 || index >= lines.length) return false;
    const position = view ? view.indexOf(index) : index;
    if (position >= 0) scrollToPosition(position);
    return true;
  }
  window.addEventListener('hashchange', goToHash);

  // --- the job, its bars and its end --------------------------------------------------------------

  function showJob(info) {
    document.title = info.id + ' · tailcast';
    $('job-id').textContent = info.id;
    $('job-state').textContent = info.state;
    $('job-state').className = 'state state-' + info.state;
    $('job-meta').textContent = info.meta.host + ' · ' + info.meta.command.join(' ') + ' · started ' + tc.time(info.meta.started_at_ms);
    showBars(info.progress || []);
  }

  function showBars(bars) {
    $('bars').replaceChildren(...bars.map(tc.bar));
  }

  function showEnd(exit, endedAtMs) {
    ended = true;
    $('end').textContent = tc.exitText(exit) + (endedAtMs ? ' · ended ' + tc.time(endedAtMs) : '');
    $('end').className = 'end ' + (exit.code === 0 ? 'ok' : 'failed');
    $('job-state').textContent = 'exited';
    $('connection').textContent = '';
  }

  // --- the connection -----------------------------------------------------------------------------

  function readUvarint(view, position) {
    let value = 0, scale = 1;
    for (;;) {
      const byte = view[position.at++];
      if (byte === undefined) throw new Error('data message cut short');
      value += (byte & 0x7f) * scale;
      if (byte < 0x80) return value;
      scale *= 128;
    }
  }

  function onData(buffer) {
    const bytes = new Uint8Array(buffer);
    if (bytes[0] !== 1) return;
    const position = { at: 1 };
    while (position.at < bytes.length) {
      const id = readUvarint(bytes, position), offset = readUvarint(bytes, position);
      const time = readUvarint(bytes, position), length = readUvarint(bytes, position);
      let chunk = bytes.subarray(position.at, position.at + length);
      position.at += length;
      const record = byId.get(id);
      if (!record) continue;
      // Resumed by offset: what is here already is skipped, so nothing shows twice.
      if (offset + length <= record.offset) continue;
      if (offset < record.offset) chunk = chunk.subarray(record.offset - offset);
      record.offset += chunk.length;
      addBytes(record, chunk, time);
    }
    draw();
  }

  function onControl(message) {
    switch (message.type) {
      case 'job': showJob(message); break;
      case 'stream': {
        const record = streams.get(message.name) || newStream(message.name);
        byId.set(message.stream, record);
        if (record.offset === 0 && message.offset > 0) { record.offset = record.start = message.offset; $('earlier').hidden = false; }
        break;
      }
      case 'progress': showBars(message.bars); break;
      case 'finished': showEnd(message.exit, message.ended_at_ms); break;
      // Not retried: the job is not there, or a new run took its id (reload to follow that one).
      case 'error': $('connection').textContent = message.message; ended = true; break;
    }
  }

  function connect(tailLines) {
    const scheme = location.protocol === 'https:' ? 'wss://' : 'ws://';
    socket = new WebSocket(scheme + location.host + '/v1/watch', ['tailcast.v1']);
    socket.binaryType = 'arraybuffer';
    socket.onopen = function () {
      retry = 0;
      $('connection').textContent = 'live';
      const offsets = Array.from(streams.values()).map(function (s) { return { name: s.name, offset: s.offset }; });
      const watch = { type: 'watch', job: jobId, follow: true, offsets: offsets };
      if (tailLines) watch.tail_lines = tailLines;
      socket.send(JSON.stringify(watch));
    };
    socket.onmessage = function (event) {
      if (typeof event.data === 'string') onControl(JSON.parse(event.data));
      else onData(event.data);
    };
    socket.onclose = function () {
      socket = null;
      if (ended) return;
      // Dropped (server restarted, network gone, laptop asleep): back by offset, with growing pauses.
      const pause = Math.min(10000, 500 * Math.pow(2, retry++));
      $('connection').textContent = 'reconnecting…';
      setTimeout(function () { if (!socket && !ended) connect(null); }, pause);
    };
  }
  window.addEventListener('online', function () { retry = 0; });

  // Earlier bytes of a log opened at its end, one range per stream (their order between streams is lost).
  $('earlier').addEventListener('click', async function () {
    const earlier = [];
    for (const record of streams.values()) {
      if (record.start === 0) continue;
      const from = Math.max(0, record.start - EARLIER_BYTES);
      const answer = await tc.api('/v1/jobs/' + encodeURIComponent(jobId) + '/raw?stream=' + encodeURIComponent(record.name),
        { headers: { Range: 'bytes=' + from + '-' + (record.start - 1) } });
      const bytes = new Uint8Array(await answer.arrayBuffer());
      // A range that starts inside a line: that line is left for the next click.
      const cut = from > 0 ? bytes.indexOf(10) + 1 : 0;
      record.start = from + cut;
      const parts = new TextDecoder('utf-8').decode(bytes.subarray(cut)).split('\n');
      parts.pop();  // empty: the bytes end where the shown part starts, at the start of a line
      parts.forEach(function (body) {
        const line = { stream: record, text: '', html: '', time: 0, open: false };
        render({ ansi: Object.assign(new AnsiUp(), { use_classes: true, transform_to_html: classesOnly }) }, body, line);
        earlier.push(line);
      });
    }
    lines = earlier.concat(lines);
    if (!Array.from(streams.values()).some(function (s) { return s.start > 0; })) $('earlier').hidden = true;
    rebuildView();
    draw();
  });

  async function start() {
    const probe = document.createElement('div');
    probe.className = 'line';
    probe.textContent = 'x';
    rows.append(probe);
    lineHeight = probe.getBoundingClientRect().height || lineHeight;
    probe.remove();
    setFollow(!location.hash);
    let info;
    try {
      info = await (await tc.api('/v1/jobs/' + encodeURIComponent(jobId))).json();
    } catch (error) {
      $('connection').textContent = String(error.message || error);
      return;
    }
    showJob(info);
    const size = info.streams.reduce(function (sum, s) { return sum + s.size; }, 0);
    startedAtEnd = size > BIG_BYTES && !location.hash;
    connect(startedAtEnd ? TAIL_LINES : null);
    if (location.hash) {
      // A link to a line: shown once the replay has reached it.
      const wait = setInterval(function () { if (goToHash() || ended) clearInterval(wait); }, 200);
    }
  }

  // For tests and the curious: the log as shown, one line per line.
  window.tailcastText = function () { return lines.map(function (l) { return l.text; }).join('\n'); };
  start();
})();
