// The on-air page of a live session: takes the microphone, records it with MediaRecorder
// (Opus in WebM, a chunk every 250 ms), sends the chunks in order to the session's audio
// route, shows the count of devices playing (polled each second), and on "stop" sends the
// last chunk before submitting the stop form.
(function () {
  var box = document.getElementById("on-air");
  if (!box) return;
  var audioUrl = box.dataset.audioUrl, statusUrl = box.dataset.statusUrl, csrf = box.dataset.csrf;
  var recorderId = "r" + Date.now().toString(36) + Math.random().toString(36).slice(2, 10);
  var seq = 0, sentChunks = 0, chain = Promise.resolve(), failed = false, recorder = null;
  var stopping = false;
  var stopForm = document.getElementById("stop-form");

  function set(id, text) { var el = document.getElementById(id); if (el) el.textContent = text; }
  function problem(text) { failed = true; set("mic-state", text); }

  function post(n, blob, attempt) {
    return fetch(audioUrl + "?seq=" + n + "&recorder=" + recorderId, {
      method: "POST", credentials: "same-origin", body: blob,
      headers: {"Content-Type": "application/octet-stream", "X-CSRF-Token": csrf}
    }).then(function (r) {
      if (r.ok) { sentChunks += 1; set("sent", Math.round(sentChunks / 4) + " s"); return; }
      if (r.status >= 500 && attempt < 4) return post(n, blob, attempt + 1);
      return r.json().then(function (b) { problem("Lỗi gửi âm thanh / audio not taken: " + (b.detail || r.status)); },
                           function () { problem("Lỗi gửi âm thanh / audio not taken: " + r.status); });
    }, function () {
      if (attempt < 4) return new Promise(function (ok) { setTimeout(ok, 300); })
        .then(function () { return post(n, blob, attempt + 1); });
      problem("Mất kết nối tới máy chủ / the center is unreachable");
    });
  }

  function send(blob) {
    var n = seq++;
    chain = chain.then(function () { if (!failed) return post(n, blob, 0); });
  }

  function meter(stream) {
    var Ctx = window.AudioContext || window.webkitAudioContext;
    if (!Ctx) return;
    var ctx = new Ctx(), analyser = ctx.createAnalyser(), data = new Uint8Array(256);
    ctx.createMediaStreamSource(stream).connect(analyser);
    var bar = document.getElementById("mic-level");
    (function draw() {
      analyser.getByteTimeDomainData(data);
      var peak = 0;
      for (var i = 0; i < data.length; i++) peak = Math.max(peak, Math.abs(data[i] - 128));
      if (bar) bar.style.width = Math.min(100, peak / 1.28) + "%";
      requestAnimationFrame(draw);
    })();
  }

  function start() {
    var type = ["audio/webm;codecs=opus", "audio/ogg;codecs=opus"].filter(function (t) {
      return window.MediaRecorder && MediaRecorder.isTypeSupported(t); })[0];
    if (!navigator.mediaDevices || !type) {
      problem("Trình duyệt này không ghi được Opus / this browser cannot record Opus");
      return;
    }
    // the voice as captured: no echo canceller (nothing plays here) and no gain pumping
    navigator.mediaDevices.getUserMedia({audio: {echoCancellation: false,
      noiseSuppression: false, autoGainControl: false, channelCount: 1}}).then(function (stream) {
      recorder = new MediaRecorder(stream, {mimeType: type, audioBitsPerSecond: 32000});
      recorder.ondataavailable = function (e) { if (e.data && e.data.size) send(e.data); };
      recorder.start(250);
      set("mic-state", "Micrô đang mở, đang phát / microphone open: on air");
      box.dataset.recording = "1";
      try { meter(stream); } catch (e) { /* the level bar is only a help */ }
    }, function (err) {
      problem("Không mở được micrô / the microphone could not be opened: " + err.name);
    });
  }

  function poll() {
    fetch(statusUrl, {credentials: "same-origin", headers: {"Accept": "application/json"}})
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (s) {
        if (s) {
          set("playing", String(s.playing));
          set("targeted", String(s.targeted));
          // stopped elsewhere (another tab or user): show the summary
          if (s.state === "ended" && !stopping) { window.location.reload(); return; }
        }
        setTimeout(poll, 1000);
      }, function () { setTimeout(poll, 3000); });
  }

  stopForm.addEventListener("submit", function (e) {
    e.preventDefault();
    stopping = true;
    set("mic-state", "Đang dừng… / stopping…");
    document.getElementById("stop").disabled = true;
    var done = function () { chain.then(function () { stopForm.submit(); }); };
    if (recorder && recorder.state !== "inactive") {
      recorder.addEventListener("stop", function () { setTimeout(done, 0); });
      recorder.stop();
      recorder.stream.getTracks().forEach(function (t) { t.stop(); });
    } else {
      done();
    }
  });

  if (box.dataset.source === "device") {  // the device's microphone speaks: count and stop
    set("mic-state", "Đang phát từ micrô của thiết bị / on air from the device's microphone");
  } else {
    start();
  }
  poll();
})();
