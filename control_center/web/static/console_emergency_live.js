// The live emergency page: acknowledgements and starts per device, polled each second
// until every device has started or failed (the page's #live holds the URL and time zone).
(function () {
  var live = document.getElementById("live");
  if (!live) return;
  var url = live.dataset.statusUrl, tz = live.dataset.tz, rounds = 0;
  var fmt = new Intl.DateTimeFormat("en-GB", {timeZone: tz, day: "2-digit", month: "2-digit",
    year: "numeric", hour: "2-digit", minute: "2-digit", second: "2-digit", hour12: false});
  function local(iso) { return iso ? fmt.format(new Date(iso)).replace(",", "") : "—"; }
  function set(id, text) { var el = document.getElementById(id); if (el) el.textContent = text; }
  function show(s) {
    set("acked", s.acknowledged + " / " + s.targeted);
    set("started", s.started + " / " + s.targeted);
    set("failed", String(s.failed));
    document.getElementById("box-failed").hidden = !s.failed;
    set("expired", String(s.expired));
    document.getElementById("box-expired").hidden = !s.expired;
    document.getElementById("box-started").className = "big" + (s.started === s.targeted ? " ok" : "");
    document.getElementById("box-acked").className = "big" + (s.acknowledged === s.targeted ? " ok" : "");
    s.devices.forEach(function (d) {
      var row = document.querySelector('tr[data-device="' + d.id + '"]');
      if (!row) return;
      row.querySelector(".acked").textContent = local(d.acked_at);
      row.querySelector(".started").textContent = local(d.started_at);
      row.querySelector(".failed").textContent = d.failed || "";
    });
    set("updated", "Cập nhật / updated " + local(new Date().toISOString()));
    return s.started + s.failed >= s.targeted;
  }
  function tick() {
    rounds += 1;
    fetch(url, {credentials: "same-origin", headers: {"Accept": "application/json"}})
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (s) { var done = s ? show(s) : false; if (!done || rounds < 10) setTimeout(tick, 1000); })
      .catch(function () { setTimeout(tick, 3000); });
  }
  tick();
})();
