// A job's output: replayed from its start (or its last lines, for a big log), then live over the WebSocket
// watch protocol (PROTOCOL.md 3.2), resumed by offset after a dropped connection: no gap, no duplicate.
// Lines are kept as text and drawn only where the log is scrolled to. A big log can also be read at any
// point (the position slider, or a link to a line): the page then holds a window of one stream, read by
// Range from the archive and moved as it is scrolled, never the whole log.
'use strict';
(function () {
  const jobId = decodeURIComponent(location.pathname.replace(/^\/jobs\//, ''));
  // A job with more than this many bytes opens at its last TAIL_LINES lines; earlier ones load by Range.
  const BIG_BYTES = 4 << 20;
  const TAIL_LINES = 5000;
  const EARLIER_BYTES = 1 << 20;
  // A window read at a position: fetched this many bytes at a time, and held to at most WINDOW_BYTES.
  const WINDOW_BYTES = 4 << 20;
  // Rows from a window's edge at which scrolling towards it fetches the next bytes.
  const EDGE_ROWS = 50;
  // Lines shown above the line of a link into a big log.
  const LINK_CONTEXT_LINES = 100;
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
  let numbered = true;        // whether lines[0] is line dropped + 1 of the log (not for a log opened past its start)
  let browsing = null;        // the stream whose window is shown, when not live
  let loading = false, lastScrollTop = 0;
  // Where following last put the log (its end): a scroll above it that did not come from the page is the reader's.
  let followedTop = 0;
  let generation = 0;         // counts jumps and returns to live: a fetch for an older one is dropped
  let lineHeight = 18;
  const search = { query: '', at: -1 };

  // --- turning bytes into lines ---------------------------------------------------------------

  function newAnsi() {
    const ansi = new AnsiUp();
    ansi.use_classes = true;
    ansi.transform_to_html = classesOnly;
    return ansi;
  }

  function newStream(name) {
    const record = { name: name, index: streams.size, size: 0, hidden: false };
    resetStream(record);
    streams.set(name, record);
    addStreamControls(record);
    return record;
  }

  // Nothing of the stream shown: `offset` is the end of what is, `start` its beginning.
  function resetStream(record) {
    Object.assign(record, { offset: 0, start: 0, decoder: new TextDecoder('utf-8'), ansi: newAnsi(), pending: '', open: null });
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
      if (follow) {
        log.scrollTop = log.scrollHeight;
        followedTop = log.scrollTop;
      }
      const first = Math.max(0, Math.floor(log.scrollTop / lineHeight) - 20);
      const last = Math.min(count, Math.ceil((log.scrollTop + log.clientHeight) / lineHeight) + 20);
      rows.style.top = (first * lineHeight) + 'px';
      const elements = [];
      for (let position = first; position < last; position++) elements.push(lineElement(view ? view[position] : position));
      rows.replaceChildren(...elements);
      // The slider follows the window as it is scrolled (not while it is being moved).
      const top = lines[view ? view[first] : first];
      if (browsing && top && document.activeElement !== $('position')) $('position').value = Math.round(1000 * top.at / Math.max(1, browsing.size));
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
    if (numbered) {
      anchor.href = '#L' + number;
      anchor.id = 'L' + number;
      anchor.textContent = number;
    }
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
    // Scrolling up stops following, by any amount; reaching the end again does not restart it (the button
    // does). Any amount, because a finger's pan moves the log a few pixels a frame and each frame's follow
    // pulled it back to its end before it had gone two lines (seen in Firefox, whose synthesized touches
    // may come without touch events). A log that is still at its end (a resize) keeps following.
    if (follow && log.scrollTop < followedTop - 1 && log.scrollTop + log.clientHeight < log.scrollHeight - 1) setFollow(false);
    // A window moves when scrolled towards one of its edges (not when the page itself sets the position).
    const edge = EDGE_ROWS * lineHeight;
    if (browsing && log.scrollTop > lastScrollTop && log.scrollTop + log.clientHeight > log.scrollHeight - edge) moveWindow(1);
    else if (browsing && log.scrollTop < lastScrollTop && log.scrollTop < edge) moveWindow(-1);
    lastScrollTop = log.scrollTop;
    draw();
  });
  // Scrolling up stops following, told from the input as well as from the position: Firefox scrolls smoothly,
  // a few pixels a frame, and each frame's follow pulled the log back to its end before it had moved far
  // enough to tell. A wheel, a key or a finger moving up stops it at once.
  log.addEventListener('wheel', function (event) { if (event.deltaY < 0) setFollow(false); }, { passive: true });
  log.addEventListener('keydown', function (event) { if (['ArrowUp', 'PageUp', 'Home'].includes(event.key)) setFollow(false); });
  // A finger pulling the log down: Chromium sends touch events as it pans, Firefox a touchstart and then only
  // pointer events (seen with WebDriver's touch actions), so both are heard.
  let fingerY = 0;
  log.addEventListener('touchstart', function (event) { fingerY = event.touches[0].clientY; }, { passive: true });
  log.addEventListener('touchmove', function (event) { if (event.touches[0].clientY > fingerY) setFollow(false); }, { passive: true });
  log.addEventListener('pointerdown', function (event) { if (event.pointerType === 'touch') fingerY = event.clientY; }, { passive: true });
  log.addEventListener('pointermove', function (event) { if (event.pointerType === 'touch' && event.clientY > fingerY) setFollow(false); }, { passive: true });
  window.addEventListener('resize', draw);
  $('follow').addEventListener('click', function () {
    if (browsing) goLive();
    else setFollow(!follow);
  });
  $('position').addEventListener('change', function (event) {
    const record = biggestStream();
    const at = Number(event.target.value);
    if (at < 1000) openAt(record, Math.floor(record.size * at / 1000));
    else if (browsing) goLive();
  });
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
    if (!match || !numbered) return false;
    const index = Number(match[1]) - 1 - dropped;
    if (index < 0 || index >= lines.length) return false;
    const position = view ? view.indexOf(index) : index;
    if (position >= 0) scrollToPosition(position);
    return true;
  }
  // A line outside the window of a big log is read where it is.
  window.addEventListener('hashchange', function () { if (!goToHash() && browsing) openAtLink(browsing); });

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
      record.size = Math.max(record.size, record.offset);
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
      const watch = { type: 'watch', job: jobId, follow: true };
      // Offsets win over tail_lines, so a first look at the end names none.
      if (tailLines) watch.tail_lines = tailLines;
      else watch.offsets = Array.from(streams.values()).map(function (s) { return { name: s.name, offset: s.offset }; });
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

  // --- reading by Range ----------------------------------------------------------------------------

  // Bytes [from, to) of a stream (fewer at its end); the answer's Content-Range tells its size now.
  async function fetchRange(record, from, to) {
    const answer = await tc.api('/v1/jobs/' + encodeURIComponent(jobId) + '/raw?stream=' + encodeURIComponent(record.name),
      { headers: { Range: 'bytes=' + from + '-' + (to - 1) } });
    const total = /\/(\d+)$/.exec(answer.headers.get('Content-Range') || '');
    if (total) record.size = Number(total[1]);
    return new Uint8Array(await answer.arrayBuffer());
  }

  // Bytes read from `from` - 1 so that a line starting exactly at `from` is kept: where the first whole line
  // begins in them (0 when they start the stream).
  function firstLineStart(bytes, fetchedFrom) {
    return fetchedFrom === 0 ? 0 : bytes.indexOf(10) + 1;
  }

  // The end of the whole lines in bytes ending at `end`: a stream's unfinished last line counts once it is
  // the end of the stream.
  function wholeLinesEnd(bytes, record, end) {
    return end >= record.size ? bytes.length : bytes.lastIndexOf(10) + 1;
  }

  // Lines of a stream's bytes, `at` being the stream offset of bytes[0]: each knows where it starts and ends,
  // so a window can be cut back by bytes.
  function linesOf(record, bytes, at) {
    const state = { ansi: newAnsi() };
    const decoder = new TextDecoder('utf-8');
    const out = [];
    for (let from = 0; from < bytes.length;) {
      const newline = bytes.indexOf(10, from);
      const end = newline < 0 ? bytes.length : newline + 1;
      const line = { stream: record, text: '', html: '', time: 0, open: false, at: at + from, end: at + end };
      render(state, decoder.decode(bytes.subarray(from, newline < 0 ? end : newline)), line);
      out.push(line);
      from = end;
    }
    return out;
  }

  // The lines before a stream's first shown one, about `count` bytes of them.
  async function linesBefore(record, count) {
    const from = Math.max(0, record.start - count);
    const fetched = Math.max(0, from - 1);
    const bytes = await fetchRange(record, fetched, record.start);
    const cut = firstLineStart(bytes, fetched);
    return linesOf(record, bytes.subarray(cut), fetched + cut);
  }

  // Earlier bytes of a log opened at its end, one range per stream (their order between streams is lost).
  $('earlier').addEventListener('click', async function () {
    let earlier = [];
    for (const record of streams.values()) {
      if (record.start === 0) continue;
      const before = await linesBefore(record, EARLIER_BYTES);
      if (before.length) record.start = before[0].at;
      earlier = earlier.concat(before);
    }
    lines = earlier.concat(lines);
    const atStart = Array.from(streams.values()).every(function (s) { return s.start === 0; });
    if (atStart) $('earlier').hidden = true;
    numbered = atStart && Array.from(streams.values()).filter(function (s) { return s.size > 0; }).length <= 1;
    rebuildView();
    draw();
  });

  function biggestStream() {
    return Array.from(streams.values()).reduce(function (a, b) { return b.size > a.size ? b : a; });
  }

  function stopLive() {
    if (socket) {
      socket.onclose = null;
      socket.close();
      socket = null;
    }
    $('earlier').hidden = true;
    setFollow(false);
  }

  // A window of one stream from the first line that starts at or after `offset`.
  async function openAt(record, offset) {
    stopLive();
    browsing = record;
    const mine = ++generation;
    loading = true;
    try {
      const fetched = Math.max(0, Math.min(offset, record.size) - 1);
      const bytes = await fetchRange(record, fetched, fetched + EARLIER_BYTES);
      // Another position asked for meanwhile, or back to live: this one is not wanted any more.
      if (mine !== generation) return;
      const cut = firstLineStart(bytes, fetched);
      const keep = Math.max(cut, wholeLinesEnd(bytes, record, fetched + bytes.length));
      resetStream(record);
      record.start = fetched + cut;
      record.offset = fetched + keep;
      lines = linesOf(record, bytes.subarray(cut, keep), record.start);
      dropped = 0;
      numbered = record.start === 0;
      $('connection').textContent = 'reading at ' + (100 * record.start / Math.max(1, record.size)).toFixed(1) + '% · follow returns to the end';
      rebuildView();
      spacer.style.height = ((view ? view.length : lines.length) * lineHeight) + 'px';
      log.scrollTop = lastScrollTop = 0;
      draw();
    } finally {
      if (mine === generation) loading = false;
    }
  }

  // A window from a little before the line of a `#L1234` link, numbered: the server says where a line
  // begins (its line index), wherever it is in the stream. A link to no line opens the stream at its start.
  async function openAtLink(record) {
    const match = /^#L(\d+)$/.exec(location.hash);
    const first = match ? Math.max(1, Number(match[1]) - LINK_CONTEXT_LINES) : 1;
    let offset = 0;
    try {
      const path = '/v1/jobs/' + encodeURIComponent(jobId) + '/lines?stream=' + encodeURIComponent(record.name) + '&line=' + first;
      offset = (await (await tc.api(path)).json()).offset;
    } catch (error) {
      $('connection').textContent = String(error.message || error);
    }
    await openAt(record, offset);
    if (offset > 0 && browsing === record && record.start === offset) {
      dropped = first - 1;
      numbered = true;
    }
    goToHash();
    draw();
  }

  // The window's next (step 1) or previous (step -1) bytes; what falls beyond WINDOW_BYTES at the other end goes.
  async function moveWindow(step) {
    const record = browsing;
    if (loading || (step > 0 ? record.offset >= record.size : record.start === 0)) return;
    const mine = generation;
    loading = true;
    try {
      let shift;
      if (step > 0) {
        const bytes = await fetchRange(record, record.offset, record.offset + EARLIER_BYTES);
        if (mine !== generation) return;
        const keep = wholeLinesEnd(bytes, record, record.offset + bytes.length);
        lines = lines.concat(linesOf(record, bytes.subarray(0, keep), record.offset));
        record.offset += keep;
        let cut = 0;
        while (cut < lines.length - 1 && record.offset - lines[cut].at > WINDOW_BYTES) cut++;
        lines = lines.slice(cut);
        dropped += cut;
        record.start = lines[0].at;
        shift = -cut;
      } else {
        const earlier = await linesBefore(record, EARLIER_BYTES);
        if (mine !== generation) return;
        if (earlier.length) record.start = earlier[0].at;
        lines = earlier.concat(lines);
        let keep = lines.length;
        while (keep > 1 && lines[keep - 1].end - record.start > WINDOW_BYTES) keep--;
        lines = lines.slice(0, keep);
        record.offset = lines[keep - 1].end;
        dropped = Math.max(0, dropped - earlier.length);
        if (record.start === 0) {
          numbered = true;
          dropped = 0;
        }
        shift = earlier.length;
      }
      // The same lines stay under the reader's eyes.
      rebuildView();
      spacer.style.height = ((view ? view.length : lines.length) * lineHeight) + 'px';
      log.scrollTop = lastScrollTop = log.scrollTop + shift * lineHeight;
      draw();
    } finally {
      if (mine === generation) loading = false;
    }
  }

  // Back to the end of the log, live.
  function goLive() {
    stopLive();
    browsing = null;
    generation++;
    loading = false;
    lines = [];
    dropped = 0;
    numbered = false;
    streams.forEach(resetStream);
    rebuildView();
    setFollow(true);
    connect(TAIL_LINES);
  }

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
    info.streams.forEach(function (s) { (streams.get(s.name) || newStream(s.name)).size = s.size; });
    const big = info.streams.reduce(function (sum, s) { return sum + s.size; }, 0) > BIG_BYTES;
    $('position').hidden = !big;
    if (big && location.hash) {
      // A link into a big log: read where the line is, not replayed whole.
      if (info.exit) showEnd(info.exit, info.ended_at_ms);
      await openAtLink(biggestStream());
      return;
    }
    startedAtEnd = big;
    numbered = !startedAtEnd;
    connect(startedAtEnd ? TAIL_LINES : null);
    if (location.hash) {
      // A link to a line: shown once the replay has reached it.
      const wait = setInterval(function () { if (goToHash() || ended) clearInterval(wait); }, 200);
    }
  }

  // For tests and the curious: the log as shown, one line per line.
  window.tailcastText = function () { return lines.map(function (l) { return l.text; }).join('\n'); };
  // Which bytes of which stream a window holds, and whether it is still fetching.
  window.tailcastWindow = function () { return browsing && { stream: browsing.name, start: browsing.start, end: browsing.offset, loading: loading }; };
  start();
})();
