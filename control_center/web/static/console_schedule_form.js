// The schedule form: the chosen bulletin's preview, once or daily fields, quick times.
(function () {
  var select = document.getElementById('f-bulletin_id');
  select.addEventListener('change', function () {
    document.querySelectorAll('[data-preview]').forEach(function (p) { p.hidden = p.dataset.preview !== select.value; });
  });
  function showKind() {
    var once = document.getElementById('kind-once').checked;
    document.getElementById('once-fields').hidden = !once;
    document.getElementById('daily-fields').hidden = once;
  }
  document.querySelectorAll('input[name=kind]').forEach(function (r) { r.addEventListener('change', showKind); });
  document.querySelectorAll('[data-time]').forEach(function (b) {
    b.addEventListener('click', function () { document.getElementById('f-time').value = b.dataset.time; });
  });
})();
