// A filter that applies itself: a <select data-submit-on-change> submits its form when changed.
document.querySelectorAll("select[data-submit-on-change]").forEach(function (select) {
  select.addEventListener("change", function () { select.form.submit(); });
});
