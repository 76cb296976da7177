// The voice page: show the partial transcript while the citizen speaks; reload once the
// recognition is done (the server then sends the page back to the form). Served from the
// kiosk itself: the page's Content-Security-Policy allows no inline script.
(function poll() {
  fetch("/voice/state").then(function (r) { return r.json(); }).then(function (s) {
    document.getElementById("partial").textContent = s.partial;
    if (s.done && !s.recording) { window.location.reload(); } else { setTimeout(poll, 300); }
  });
})();
